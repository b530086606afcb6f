"""The rough edges of issue 14: each one as a person met it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clihelp import article, run_cli

SCRIPT = Path(sys.executable).parent / "healthkb"


@pytest.fixture
def kb(make_kb):
    root = make_kb({
        "back/lumbar-spine.txt": article("The lumbar spine carries the upper body.", heading="Lumbar spine basics"),
        "back/lumbar-care.txt": article("Care for the lumbar spine: move often.", heading="Lumbar care"),
        "back/posture.txt": article("Posture and the lumbar spine at a desk.", heading="Posture"),
        "back/lifting.txt": article("Lifting with the legs spares the lumbar spine.", heading="Lifting"),
    })
    assert run_cli("reindex").code == 0
    return root


def test_kb_is_accepted_after_the_command(kb, make_kb, tmp_path, monkeypatch):
    other = make_kb({"coffee.txt": article("Coffee and sleep.")}, root=tmp_path / "mykb")
    monkeypatch.setenv("HEALTHKB_KB", str(kb))
    after = run_cli("search", "coffee", "--kb", str(other), "--json")
    before = run_cli("--kb", str(other), "search", "coffee", "--json")
    assert after.code == before.code == 0 and after.ids() == before.ids() == ["coffee"]
    assert run_cli("list", "--json", "--kb", str(other)).json["articles"][0]["id"] == "coffee"


def test_a_quoted_phrase_is_echoed_once_quoted(kb):
    result = run_cli("search", '"lumbar spine"')
    assert result.code == 0
    summary = result.stderr.strip().split("\n")[-1]
    assert "for '\"lumbar spine\"'" in summary and '""' not in result.stderr


def test_the_range_of_a_one_hit_page(kb):
    result = run_cli("search", "lumbar", "-n", "3", "--page", "2")
    assert result.code == 0
    assert result.stderr.startswith('4 of 4 results for "lumbar"'), result.stderr
    result = run_cli("search", "lumbar", "-n", "2")
    assert result.stderr.startswith('1–2 of 4 results for "lumbar"'), result.stderr


def test_one_link_elsewhere_that_was_missing(kb, tmp_path):
    (kb / "back" / "lifting.txt").write_text(article("Lifting with the legs.", nxt="Desk stretches"), encoding="utf-8")
    assert run_cli("reindex").code == 0
    new = tmp_path / "desk-stretches.txt"
    new.write_text(article("Stretch at the desk every hour."), encoding="utf-8")
    result = run_cli("add", str(new))
    assert "and 1 link elsewhere that was missing." in " ".join(result.stdout.split())


def run_shell(command: str, kb: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HEALTHKB_KB": str(kb), "PATH": f"{SCRIPT.parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", "-o", "pipefail", "-c", command], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not SCRIPT.exists(), reason="no healthkb console script")
def test_head_closing_the_pipe_is_not_an_error(make_kb):
    # Enough output that the pipe fills and closes under the writer.
    files = {f"a/article-{n:04}.txt": article(f"Article number {n} about sleep and coffee. " * 30) for n in range(400)}
    root = make_kb(files)
    for command in ("list", "export", "graph", "export --format bulk", "graph --format json"):
        done = run_shell(f"healthkb {command} | head -1", root)
        assert done.returncode == 0, (command, done.stderr)
        assert "Traceback" not in done.stderr and "error" not in done.stderr, (command, done.stderr)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.skipif(not SCRIPT.exists(), reason="no healthkb console script")
def test_a_full_disk_is_a_clean_message(kb):
    for command in ("show lumbar-spine", "list", "export", "show lumbar-spine --json"):
        done = run_shell(f"healthkb {command} > /dev/full", kb)
        assert done.returncode == 1, (command, done.stderr)
        assert done.stderr.strip() == "healthkb: cannot write the output: No space left on device", command


def test_init_in_a_folder_that_holds_articles(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text(article("One note."), encoding="utf-8")
    (folder / "b.txt").write_text(article("Another note."), encoding="utf-8")
    said = " ".join(run_cli("init", str(folder)).stdout.split())
    assert "It holds 2 articles" in said and "Add articles" not in said
    empty = tmp_path / "empty"
    said = " ".join(run_cli("init", str(empty)).stdout.split())
    assert "Add articles with: healthkb add FILE..." in said


@pytest.mark.parametrize("args, says", [
    (("search", "--bogus", "x"), "No such option '--bogus'"),
    (("frobnicate",), "No such command 'frobnicate'"),
    (("show",), "Missing argument 'REF'"),
    (("list", "--sort", "size"), "Invalid value for '--sort'"),
])
def test_usage_errors_take_two_lines(args, says):
    result = run_cli(*args)
    assert result.code == 2
    lines = result.stderr.strip().split("\n")
    assert len(lines) <= 2, lines
    assert lines[0].startswith("healthkb: ") and says in lines[0]
    if len(lines) == 2:
        assert lines[1].startswith("usage: healthkb") and "--help" in lines[1]


def test_which_pager():
    from healthkb.cli.pager import DEFAULT_PAGER, pager_command, too_tall

    assert pager_command({}) == DEFAULT_PAGER == "less -FRX"
    assert pager_command({"PAGER": "most"}) == "most"
    assert pager_command({"PAGER": "most", "HEALTHKB_PAGER": "less -S"}) == "less -S"
    assert pager_command({"PAGER": "cat"}) is None and pager_command({"HEALTHKB_PAGER": " "}) is None
    assert pager_command({"TERM": "dumb"}) is None
    assert not too_tall("\n".join(["x"] * 23), 24) and too_tall("\n".join(["x"] * 24), 24)


def test_piped_output_is_never_paged(kb, monkeypatch, tmp_path):
    log = tmp_path / "paged"
    monkeypatch.setenv("PAGER", f"sh -c 'cat > {log}'")
    monkeypatch.setenv("LINES", "5")
    assert run_cli("list").code == 0 and not log.exists()
