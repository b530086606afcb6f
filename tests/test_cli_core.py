"""Tests for the core commands (SPEC §4): --help and --version, `list`,
`show`, `add`, `init`, `stats`, the exit codes 0/1/2/3, and "never a
traceback" — every run here checks stderr for one.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from healthkb import __version__
from healthkb.cli import cli, main
from healthkb.files import STATE_DIR_NAME
from healthkb.render import DISCLAIMER

from clihelp import REPO_DIR, SEED_ID, STARTER_DIR, Run, article, run_cli, starter_files  # noqa: F401
FLU_ID = "infections/is-it-a-cold-or-the-flu"


# ---------------------------------------------------------------- helpers


@pytest.fixture
def starter_kb(make_kb, seed_path) -> Path:
    files = starter_files()
    files[seed_path.name] = seed_path.read_bytes()
    return make_kb(files)


def article_ids(root: Path) -> list[str]:
    return sorted(p.relative_to(root).with_suffix("").as_posix() for p in root.rglob("*.txt")
                  if STATE_DIR_NAME not in p.parts)


# ---------------------------------------------------------------- help and version


def command_names() -> list[str]:
    with click.Context(cli) as ctx:
        return cli.list_commands(ctx)


def test_the_core_commands_are_listed():
    assert {"search", "similar", "show", "list", "init", "add", "reindex", "stats"} <= set(command_names())


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help(name, starter_kb):
    result = run_cli(name, "--help")
    assert result.code == 0
    assert result.stdout.startswith(f"Usage: healthkb {name}")
    assert result.stderr == ""
    assert run_cli(name, "-h").stdout == result.stdout


def test_main_help_lists_every_command():
    result = run_cli("--help")
    assert result.code == 0
    for name in command_names():
        assert re.search(rf"^\s+{name}\b", result.stdout, re.MULTILINE), name


def test_version():
    for flag in ("--version", "-V"):
        result = run_cli(flag)
        assert result.code == 0
        assert result.stdout.strip() == f"healthkb {__version__}"


def test_unknown_command_and_option_are_usage_errors(starter_kb):
    assert run_cli("frobnicate").code == 2
    assert run_cli("list", "--frobnicate").code == 2
    assert run_cli("list", "--sort", "size").code == 2


# ---------------------------------------------------------------- list


def test_list_table(starter_kb):
    result = run_cli("list")
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "title", "words"]
    ids = article_ids(starter_kb)
    body = lines[2:]
    assert max(map(len, lines)) <= 80  # piped: laid out for 80 columns
    shown = [line.split()[0] for line in body]
    # An id too long for its column is cut at the end: what shows is still a
    # prefix of it, so still a REF.
    assert [s.removesuffix("…") for s in shown] == [i[: len(s.removesuffix("…"))] for s, i in zip(shown, ids)]
    assert sum(s == i for s, i in zip(shown, ids)) > len(ids) // 2
    assert run_cli("show", next(s for s in shown if s.endswith("…")).removesuffix("…")).code == 0
    flu = next(line for line in body if line.startswith(FLU_ID))
    assert "Is it a cold or the flu?" in flu and flu.split()[-1].isdigit()
    assert f"{len(ids)} articles" in result.stderr


def test_list_json(starter_kb):
    payload = run_cli("list", "--json").json
    assert payload["schema"] == 1
    articles = payload["articles"]
    assert [a["id"] for a in articles] == article_ids(starter_kb)
    for entry in articles:
        assert set(entry) == {"id", "title", "path", "words"}
        assert (starter_kb / entry["path"]).is_file()
        assert isinstance(entry["words"], int) and entry["words"] > 0
    flu = next(a for a in articles if a["id"] == FLU_ID)
    assert flu["title"] == "Is it a cold or the flu?"
    body = run_cli("show", FLU_ID, "--json").json["body"]
    assert flu["words"] == pytest.approx(len(body.split()), rel=0.05)


def test_list_sort(make_kb):
    root = make_kb({
        "b-first.txt": "# Zebra crossings and walking\n" + article("Walk."),
        "a-second.txt": "# Apples every day\n" + article("Eat."),
        "c-third.txt": "# Middle of the road\n" + article("Road."),
    })
    for number, name in enumerate(["a-second", "c-third", "b-first"]):
        os.utime(root / f"{name}.txt", (1_700_000_000 + number * 100,) * 2)
    by = {key: [a["id"] for a in run_cli("list", "--json", "--sort", key).json["articles"]]
          for key in ("id", "title", "mtime")}
    assert by["id"] == ["a-second", "b-first", "c-third"]
    assert by["title"] == ["a-second", "c-third", "b-first"]
    assert by["mtime"] == ["b-first", "c-third", "a-second"]  # newest first


# ---------------------------------------------------------------- show


def test_show(starter_kb):
    result = run_cli("show", FLU_ID, "--width", "60")
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Is it a cold or the flu?"
    assert lines[1] == FLU_ID  # its file is just the id + ".txt": not repeated
    assert lines[2] == ""
    body_end = lines.index("See also")
    body_lines = lines[3:body_end]
    assert all(len(line) <= 60 for line in body_lines)
    source = (starter_kb / f"{FLU_ID}.txt").read_text(encoding="utf-8")
    first_paragraph = source.split("\n\n")[0]
    assert textwrap.fill(first_paragraph, 60).splitlines() == body_lines[: len(textwrap.fill(first_paragraph, 60).splitlines())]
    see_also = lines[body_end:]
    assert any(line.lstrip().startswith("← prev") for line in see_also)
    assert any(line.lstrip().startswith("→ next") for line in see_also)
    assert "infections/do-antibiotics-help-with-a-cold" in result.stdout
    assert lines[-1] == DISCLAIMER
    assert "\x1b" not in result.stdout


def test_show_by_title_and_prefix(starter_kb):
    by_id = run_cli("show", FLU_ID).stdout
    assert run_cli("show", "Is it a cold or the flu?").stdout == by_id
    assert run_cli("show", "is it a cold or the flu").stdout == by_id
    assert run_cli("show", "infections/is-it").stdout == by_id
    assert run_cli("show", f"{FLU_ID}.txt").stdout == by_id


def test_show_raw(starter_kb, seed_path):
    result = run_cli("show", SEED_ID, "--raw")
    assert result.code == 0
    expected = seed_path.read_text(encoding="utf-8").replace("\r\n", "\n").rstrip("\n")
    assert result.stdout.rstrip("\n") == expected


def test_show_raw_removes_terminal_controls(make_kb):
    make_kb({"evil.txt": article("Harmless \x1b]0;pwned\x07text with \x1b[31mred\x1b[0m inside.")})
    for args in (["--raw"], [], ["--json"]):
        result = run_cli("show", "evil", *args)
        assert result.code == 0
        assert "\x1b" not in result.stdout and "\x07" not in result.stdout


def test_show_json(starter_kb):
    payload = run_cli("show", FLU_ID, "--json").json
    assert {"schema", "id", "title", "path", "body", "prev", "next", "related"} <= set(payload)
    assert payload["schema"] == 1
    assert (payload["id"], payload["title"], payload["path"]) == (FLU_ID, "Is it a cold or the flu?", f"{FLU_ID}.txt")
    assert payload["body"].startswith("Both colds and influenza")
    assert "<<:" not in payload["body"] and not payload["body"].rstrip().endswith("|")
    for link in [payload["prev"], payload["next"], *payload["related"]]:
        assert {"text", "status", "id", "candidates"} <= set(link)
        assert link["status"] in {"resolved", "ambiguous", "missing"}
        if link["status"] == "resolved":
            assert link["candidates"] == [link["id"]]
            assert (Path(os.environ["HEALTHKB_KB"]) / f"{link['id']}.txt").is_file()
    assert payload["next"]["id"] == "infections/do-antibiotics-help-with-a-cold"
    assert payload["related"]


def test_show_width(starter_kb):
    narrow = run_cli("show", FLU_ID, "--width", "30").stdout.splitlines()
    body = narrow[3 : narrow.index("See also")]
    assert max(len(line) for line in body) <= 30
    assert max(len(line) for line in body) > 20
    for bad in ("19", "0", "-5", "wide"):
        result = run_cli("show", FLU_ID, "--width", bad)
        assert result.code == 2 and result.stdout == ""


@pytest.mark.parametrize("command", ["show", "read"])
def test_width_is_capped_at_1000_columns(starter_kb, command):
    # A huge --width once built lines that many columns wide (10**9: 8.8 GB).
    wide = run_cli(command, FLU_ID, "--width", "1000", input="q\n")
    assert wide.code == 0 and "flu" in wide.stdout.lower()
    for bad in ("1001", "1000000000"):
        result = run_cli(command, FLU_ID, "--width", bad, input="q\n")
        assert result.code == 2 and result.stdout == ""
        assert "1000" in result.stderr


# ---------------------------------------------------------------- exit codes


def test_unknown_ref_exits_1(starter_kb):
    result = run_cli("show", "no-such-article-anywhere")
    assert result.code == 1 and result.stdout == ""
    assert "no-such-article-anywhere" in result.stderr


def test_ambiguous_ref_exits_2_listing_candidates(starter_kb):
    result = run_cli("show", "is-")
    assert result.code == 2 and result.stdout == ""
    for candidate in ("back/is-bed-rest-good-for-a-slipped-disc", FLU_ID, "sleep/is-a-lunchtime-nap-good-for-you"):
        assert candidate in result.stderr


@pytest.mark.parametrize("command", [["list"], ["search", "lumbar"], ["show", "x"], ["stats"], ["reindex"]])
def test_a_missing_or_unusable_kb_exits_3(tmp_path, command):
    missing = tmp_path / "nowhere"
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a folder", encoding="utf-8")
    for args, env in (
        (["--kb", str(missing)], None),
        (["--kb", str(a_file)], None),
        ([], {"HEALTHKB_KB": str(a_file)}),
        ([], {"HEALTHKB_KB": str(missing)}),
    ):
        result = run_cli(*args, *command, env=env)
        assert result.code == 3, (args, env, result.stderr)
        assert result.stdout == ""
        assert result.stderr.startswith("healthkb: knowledge base")
    assert not missing.exists()


def test_success_exits_0(starter_kb):
    for args in (["list"], ["show", FLU_ID], ["search", "lumbar"], ["stats"], ["reindex"]):
        assert run_cli(*args).code == 0, args


# ---------------------------------------------------------------- add


@pytest.fixture
def small_kb(make_kb) -> Path:
    return make_kb({
        "heat/heatstroke.txt": article("Heatstroke needs fast cooling.", nxt="Hydration in summer"),
    })


def test_add_copies_and_indexes_at_once(small_kb, tmp_path, snapshot):
    source = tmp_path / "in" / "hydration-in-summer.txt"
    source.parent.mkdir()
    source.write_text(article("Drink water before thirst, especially outdoors.", prev="Heatstroke"), encoding="utf-8")
    before_source = source.read_bytes()
    result = run_cli("add", str(source))
    assert result.code == 0
    assert result.stdout.startswith("Added 1 article; it resolves 1 of 1 link")
    assert (small_kb / "hydration-in-summer.txt").read_bytes() == before_source
    assert source.read_bytes() == before_source  # the original is left alone
    found = run_cli("search", "thirst", "--json").json
    assert [h["id"] for h in found["hits"]] == ["hydration-in-summer"]


def test_add_into_a_folder_and_a_non_txt_name(small_kb, tmp_path, snapshot):
    source = tmp_path / "notes.md"
    source.write_text(article("Shade and rest in the heat of the day."), encoding="utf-8")
    result = run_cli("add", "--into", "heat", str(source))
    assert result.code == 0
    assert (small_kb / "heat" / "notes.md.txt").is_file()
    before = snapshot(small_kb)
    for into in ("../outside", STATE_DIR_NAME, "heat/.hidden", "heat/heatstroke.txt"):
        refused = run_cli("add", "--into", into, str(source))
        assert refused.code == 2 and into in refused.stderr, into
    (small_kb / "clash.txt").mkdir()  # a folder where the article would go
    clash = tmp_path / "clash.txt"
    clash.write_text(article("Clash."), encoding="utf-8")
    assert run_cli("add", "--force", str(clash)).code == 2
    (small_kb / "clash.txt").rmdir()
    assert snapshot(small_kb) == before


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "bad"
    folder.mkdir()
    empty = folder / "empty.txt"
    empty.write_bytes(b"")
    binary = folder / "picture.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    return {"missing": folder / "nope.txt", "folder": folder / "sub", "empty": empty, "binary": binary}


@pytest.mark.parametrize("kind", ["missing", "folder", "empty", "binary"])
def test_add_refuses_bad_files_and_changes_nothing(small_kb, tmp_path, snapshot, kind):
    bad = _bad_files(tmp_path)
    if kind == "folder":
        bad["folder"].mkdir()
        (bad["folder"] / "inside.txt").write_text(article("Inside."), encoding="utf-8")
    good = tmp_path / "good-article.txt"
    good.write_text(article("A perfectly good article."), encoding="utf-8")
    run_cli("reindex")
    before = snapshot(small_kb)
    result = run_cli("add", str(good), str(bad[kind]))
    assert result.code == 2
    assert result.stdout == ""
    assert str(bad[kind].name) in result.stderr
    assert snapshot(small_kb) == before  # not even the good file was copied


def test_add_an_existing_name_needs_force(small_kb, tmp_path, snapshot):
    existing = small_kb / "heat" / "heatstroke.txt"
    original = existing.read_bytes()
    source = tmp_path / "heatstroke.txt"
    source.write_text(article("Replacement text about cooling towels."), encoding="utf-8")
    run_cli("reindex")
    before = snapshot(small_kb)
    refused = run_cli("add", "--into", "heat", str(source))
    assert refused.code == 2
    assert "already exists" in refused.stderr and "--force" in refused.stderr
    assert existing.read_bytes() == original
    assert snapshot(small_kb) == before
    forced = run_cli("add", "--into", "heat", "--force", str(source))
    assert forced.code == 0
    assert existing.read_bytes() == source.read_bytes()
    found = run_cli("search", "towels", "--json").json
    assert [h["id"] for h in found["hits"]] == ["heat/heatstroke"]
    assert run_cli("search", "fast", "--json").code == 1  # the old text left the index


def test_add_the_same_file_twice_in_one_call(small_kb, tmp_path):
    source = tmp_path / "twice.txt"
    source.write_text(article("Twice."), encoding="utf-8")
    result = run_cli("add", str(source), str(source))
    assert result.code == 2 and not (small_kb / "twice.txt").exists()


def test_add_json(small_kb, tmp_path):
    source = tmp_path / "hydration-in-summer.txt"
    source.write_text(article("Drink water.", prev="Heatstroke"), encoding="utf-8")
    payload = run_cli("add", "--json", str(source)).json
    assert {"schema", "added", "updated", "removed", "unchanged", "skipped", "seconds"} <= set(payload)
    assert (payload["added"], payload["updated"], payload["removed"], payload["unchanged"]) == (1, 0, 0, 1)
    assert payload["skipped"] == [] and payload["seconds"] >= 0
    assert payload["revived"] == 1
    assert payload["links"] == {"hydration-in-summer": {"resolved": 1, "total": 1}}


# ---------------------------------------------------------------- init and stats


def test_init_is_idempotent(tmp_path, snapshot):
    folder = tmp_path / "new-kb"
    first = run_cli("init", str(folder))
    assert first.code == 0 and "Made" in first.stdout
    assert (folder / STATE_DIR_NAME).is_dir()
    (folder / "note.txt").write_text(article("A note."), encoding="utf-8")
    before = snapshot(folder)
    second = run_cli("init", str(folder))
    assert second.code == 0 and "already a knowledge base" in " ".join(second.stdout.split())
    assert snapshot(folder) == before
    assert run_cli("init", str(folder / "note.txt")).code == 2  # a file, not a folder


def test_init_then_commands_find_the_kb_from_inside_it(tmp_path, monkeypatch):
    folder = tmp_path / "marked"
    run_cli("init", str(folder))
    (folder / "sub").mkdir()
    (folder / "sub" / "gargling-salt-water.txt").write_text(article("Gargling soothes a sore throat."), encoding="utf-8")
    monkeypatch.delenv("HEALTHKB_KB")
    monkeypatch.chdir(folder / "sub")
    listed = run_cli("list", "--json").json
    assert [a["id"] for a in listed["articles"]] == ["sub/gargling-salt-water"]


def test_stats(starter_kb):
    result = run_cli("stats")
    assert result.code == 0
    rows = dict(re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in result.stdout.splitlines() if line.strip())
    count = len(article_ids(starter_kb))
    assert rows["articles"] == str(count)
    assert rows["knowledge base"] == str(starter_kb.resolve())
    assert rows["skipped files"] == "0"
    assert rows["index size"].endswith("the articles)")
    assert re.fullmatch(r"\d+ s ago", rows["last update"])
    payload = run_cli("stats", "--json").json
    assert payload["schema"] == 1
    assert payload["articles"] == count and payload["skipped"] == 0
    assert payload["index_bytes"] > 0 and payload["corpus_bytes"] > 0
    assert payload["shards"] >= 1 and isinstance(payload["index_schema"], int)
    assert payload["links"]["resolved"] > 0


def test_stats_counts_skipped_files(make_kb):
    make_kb({"good.txt": article("Fine."), "empty.txt": b"", "binary.txt": b"\x00\x01\x02" * 100})
    payload = run_cli("stats", "--json").json
    assert (payload["articles"], payload["skipped"]) == (1, 2)


def test_init_uses_the_kb_option_when_no_folder_is_given(tmp_path):
    target = tmp_path / "notes"
    result = run_cli("--kb", str(target), "init")
    assert result.code == 0
    assert (target / STATE_DIR_NAME).is_dir()
    assert not (Path.cwd() / STATE_DIR_NAME).exists() or Path.cwd() == target
