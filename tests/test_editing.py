"""`edit`, `new` and shell completion.

Editors here are small Python scripts (EDITOR="python script.py"), run by
the real command, so every path is the one a person's editor would take:
saving, exiting non-zero, deleting or emptying the file, being interrupted.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clihelp import article, run_cli

NOTE = "sleep/naps.txt"


@pytest.fixture
def kb(make_kb):
    root = make_kb({
        NOTE: article("Short naps refresh most adults.", nxt="Sleep and coffee", teasers=["Caffeine keeps you"]),
        "sleep/coffee.txt": article("Caffeine keeps you awake for hours after a cup.", prev="Naps", heading="Sleep and coffee"),
        "sleep/dreams.txt": article("Dreams happen mostly in REM sleep.", heading="Dreams"),
    })
    assert run_cli("reindex").code == 0
    return root


def editor(tmp_path: Path, code: str) -> str:
    """An $EDITOR that runs ``code`` with ``path`` set to the file it opens."""
    script = tmp_path / "editor.py"
    script.write_text("import os, sys, signal\npath = sys.argv[1]\n" + textwrap.dedent(code), encoding="utf-8")
    return f"{sys.executable} {script}"


def test_edit_indexes_at_once_and_says_what_changed_in_its_links(kb, tmp_path, monkeypatch):
    before = (kb / NOTE).read_text()
    assert run_cli("links", "naps", "--json").json["related"][0]["status"] == "resolved"
    # Add a teaser that resolves (Dreams) and one that does not; break the next link.
    monkeypatch.setenv("EDITOR", editor(tmp_path, """
        text = open(path).read().replace(">>: Sleep and coffee", ">>: Sleep and tea")
        open(path, "w").write(text + "Dreams happen mostly...\\nNothing starts like this...\\n")
    """))
    monkeypatch.setenv("VISUAL", "")
    result = run_cli("edit", "naps")
    assert result.code == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert said.startswith("Saved sleep/naps: now resolves 1 more link; 2 became missing.")
    doc = run_cli("links", "naps", "--json").json  # the index knows already
    assert doc["next"]["status"] == "missing" and [r["status"] for r in doc["related"]] == ["resolved", "resolved", "missing"]
    assert (kb / NOTE).read_text() != before


def test_visual_wins_and_an_unchanged_file_says_so(kb, tmp_path, monkeypatch):
    monkeypatch.setenv("VISUAL", editor(tmp_path, "pass"))
    monkeypatch.setenv("EDITOR", "no-such-editor")
    result = run_cli("edit", "naps")
    assert result.code == 0 and result.stdout.strip() == "No changes to sleep/naps."


@pytest.mark.parametrize("code, says", [
    ("open(path, 'a').write('more text\\n'); sys.exit(3)", "exited with status 3"),
    ("os.remove(path)", "the editor deleted sleep/naps"),
    ("open(path, 'w').write('  \\n')", "sleep/naps was left empty"),
])
def test_a_failed_edit_puts_the_article_back(kb, tmp_path, monkeypatch, code, says):
    before = (kb / NOTE).read_bytes()
    monkeypatch.setenv("EDITOR", editor(tmp_path, code))
    result = run_cli("edit", "naps")
    assert result.code == 2
    message = " ".join(result.stderr.split())
    assert says in message and "put its previous text back" in message
    assert (kb / NOTE).read_bytes() == before
    assert run_cli("links", "naps", "--json").json["next"]["status"] == "resolved"


def test_a_missing_editor_changes_nothing(kb, monkeypatch):
    before = (kb / NOTE).read_bytes()
    monkeypatch.setenv("EDITOR", "no-such-editor --wait")
    result = run_cli("edit", "naps")
    assert result.code == 2
    assert "the editor `no-such-editor --wait` was not found" in " ".join(result.stderr.split())
    assert "set $VISUAL or $EDITOR" in result.stderr
    assert (kb / NOTE).read_bytes() == before


def test_an_editor_killed_by_ctrl_c_changes_nothing(kb, tmp_path, monkeypatch):
    before = (kb / NOTE).read_bytes()
    monkeypatch.setenv("EDITOR", editor(tmp_path, """
        open(path, "a").write("half a thought")
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # die of it, as editors without a handler do
        os.kill(os.getpid(), signal.SIGINT)
    """))
    result = run_cli("edit", "naps")
    assert result.code == 130
    assert "interrupted" in result.stderr and (kb / NOTE).read_bytes() == before


def test_ctrl_c_in_a_real_terminal_goes_to_the_editor(kb, tmp_path):
    """Ctrl-C reaches every process of the terminal: healthkb must outlive
    it, put the file back and exit 130, with no traceback."""
    from ptyscreen import Terminal, terminal_env

    before = (kb / NOTE).read_bytes()
    code = (
        "open(path, 'a').write('typing')\nsignal.signal(signal.SIGINT, signal.SIG_DFL)\n"
        "print('EDITING', flush=True)\nimport time\ntime.sleep(30)\n"
    )
    term = Terminal(["edit", "naps"], env=terminal_env(EDITOR=editor(tmp_path, code)))
    try:
        term.pump("EDITING")
        term.send("\x03")
        assert term.wait() == 130
        assert "Traceback" not in term.all_text() and "interrupted" in term.all_text()
        assert (kb / NOTE).read_bytes() == before
    finally:
        term.close()


def test_new_creates_from_the_template_and_indexes(kb, tmp_path, monkeypatch):
    monkeypatch.setenv("EDITOR", editor(tmp_path, """
        text = open(path).read()
        assert text.startswith("# Night shifts and sleep\\n") and text.rstrip().endswith(" |"), text
        open(path, "w").write("# Night shifts and sleep\\nShift work moves the body clock. |\\n<<: Dreams\\n")
    """))
    result = run_cli("new", "Night shifts and sleep", "--into", "sleep")
    assert result.code == 0, result.stderr
    assert " ".join(result.stdout.split()) == "Added sleep/night-shifts-and-sleep: it resolves 1 of 1 link."
    doc = run_cli("show", "night shifts", "--json").json
    assert doc["id"] == "sleep/night-shifts-and-sleep" and doc["prev"]["status"] == "resolved"


def test_new_left_as_the_template_or_failed_adds_nothing(kb, tmp_path, monkeypatch):
    monkeypatch.setenv("EDITOR", editor(tmp_path, "pass"))
    result = run_cli("new", "Jet lag")
    assert result.code == 0 and "left as the template; nothing was added" in " ".join(result.stdout.split())
    assert not (kb / "jet-lag.txt").exists()
    monkeypatch.setenv("EDITOR", editor(tmp_path, "open(path, 'a').write('x'); sys.exit(1)"))
    result = run_cli("new", "Jet lag")
    assert result.code == 2 and "nothing was added" in " ".join(result.stderr.split())
    assert not (kb / "jet-lag.txt").exists()


def test_new_refuses_an_existing_file_and_folders_outside(kb, tmp_path, monkeypatch):
    monkeypatch.setenv("EDITOR", editor(tmp_path, "raise SystemExit('must not run')"))
    before = (kb / NOTE).read_bytes()
    result = run_cli("new", "Naps", "--into", "sleep")
    assert result.code == 2 and "sleep/naps.txt already exists" in result.stderr and "healthkb edit sleep/naps" in result.stderr
    assert (kb / NOTE).read_bytes() == before
    for into in ("../outside", "/tmp"):
        assert run_cli("new", "Escape", "--into", into).code == 2
    assert run_cli("new", "   ").code == 2


# --- completion -------------------------------------------------------------------


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o"), ("zsh", "#compdef healthkb"), ("fish", "complete --no-files")])
def test_completion_prints_the_shell_script(shell, marker):
    result = run_cli("completion", shell)
    assert result.code == 0 and marker in result.stdout and "_HEALTHKB_COMPLETE" in result.stdout


def test_completion_of_an_unknown_shell_is_a_usage_error():
    assert run_cli("completion", "powershell").code == 2


def complete(monkeypatch, capsys, words: str, shell: str = "bash") -> str:
    from healthkb.cli import cli

    monkeypatch.setenv("_HEALTHKB_COMPLETE", f"{shell}_complete")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(words.split()) - (0 if words.endswith(" ") else 1)))
    with pytest.raises(SystemExit):
        cli.main(args=words.split()[1:], prog_name="healthkb")
    return capsys.readouterr().out


@pytest.mark.parametrize("command", ["show", "read", "links", "similar", "edit"])
def test_refs_complete_from_the_catalog(kb, monkeypatch, capsys, command):
    # By id prefix, by file name without its folder, by a word of the title.
    assert complete(monkeypatch, capsys, f"healthkb {command} sleep/na").split() == ["plain,sleep/naps"]
    assert complete(monkeypatch, capsys, f"healthkb {command} drea").split() == ["plain,sleep/dreams"]
    assert "plain,sleep/coffee" in complete(monkeypatch, capsys, f"healthkb {command} coffee").split()
    zsh = complete(monkeypatch, capsys, f"healthkb {command} sleep/c", "zsh").split("\n")
    assert zsh[:3] == ["plain", "sleep/coffee", "Sleep and coffee"]  # the title shown beside the id


def test_completion_uses_the_kb_given_after_the_command(kb, make_kb, tmp_path, monkeypatch, capsys):
    other = make_kb({"other/thing.txt": article("Other things.")}, root=tmp_path / "other")
    assert run_cli("--kb", str(other), "reindex").code == 0
    assert complete(monkeypatch, capsys, f"healthkb show --kb {other} oth").split() == ["plain,other/thing"]
    assert complete(monkeypatch, capsys, f"healthkb --kb {other} show oth").split() == ["plain,other/thing"]


def test_completion_never_builds_an_index_nor_imports_whoosh(make_kb, tmp_path):
    """A KB with no index yet offers nothing, and stays without one."""
    root = make_kb({"a.txt": article("Alpha.")}, root=tmp_path / "fresh")
    code = (
        "import sys\nfrom healthkb.cli import main\n"
        "try:\n    main([])\nexcept SystemExit:\n    pass\n"
        "print('whoosh' in sys.modules, file=sys.stderr)\n"
    )
    env = {"_HEALTHKB_COMPLETE": "bash_complete", "COMP_WORDS": "healthkb show a", "COMP_CWORD": "2", "HEALTHKB_KB": str(root)}
    import os

    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert done.stderr.strip() == "False" and done.stdout.strip() == ""
    assert not (root / ".healthkb" / "catalog.sqlite").exists()
