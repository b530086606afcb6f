"""The README's examples run, top to bottom, on a fresh install.

A fresh install: no $HEALTHKB_KB, an empty home folder (so the first command
creates the user's KB from the starter articles), the seed article in
~/Downloads as the README's `add` expects, and an $EDITOR that writes what a
person would.  Every command must succeed; `check` must be clean after the
README's `add`."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys


from clihelp import REPO_DIR, run_cli

EDITOR_SCRIPT = """\
import sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
if "Write the article here" in text:  # `new`: write the article
    title = text.split("\\n")[0]
    text = title + "\\nMy knee aches after long walks; the physio says keep cycling. |\\n<<: Why do knees hurt when climbing stairs?\\n"
else:  # `edit`: add a sentence
    text = text.replace(" |\\n", " Ice helps after a long day. |\\n", 1)
open(path, "w", encoding="utf-8").write(text)
"""


def readme_commands() -> list[list[str]]:
    text = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    usage = text[text.index("## Using it"):]
    block = re.search(r"```console\n(.*?)```", usage, re.S).group(1)
    commands = []
    for line in block.splitlines():
        if line.startswith("$ healthkb "):
            commands.append(shlex.split(line[2:], comments=True)[1:])
    return commands


def test_the_readme_examples_run_in_order_on_a_fresh_install(isolated_env, tmp_path, monkeypatch, seed_path):
    monkeypatch.delenv("HEALTHKB_KB")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    downloads = isolated_env.home / "Downloads"
    downloads.mkdir()
    shutil.copyfile(seed_path, downloads / seed_path.name)
    editor = tmp_path / "editor.py"
    editor.write_text(EDITOR_SCRIPT, encoding="utf-8")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.delenv("VISUAL", raising=False)

    commands = readme_commands()
    names = [c[0] for c in commands]
    assert names.index("add") < names.index("links") < names.index("check")  # add brings in what links shows
    assert {"search", "show", "read", "add", "links", "check", "new", "edit", "list", "export", "graph"} <= set(names)
    for n, args in enumerate(commands):
        args = [os.path.expanduser(a) for a in args]
        result = run_cli(*args, input="n\n2\nb\nq\n" if args[0] == "read" else None)
        assert result.code == 0, (args, result.stdout[-500:], result.stderr)
        if n == 0:
            assert "created your knowledge base" in result.stderr
        if args[0] == "check":
            assert "no problems in 50 articles" in result.stderr
        if args[0] == "links":
            assert "17 resolved" in result.stdout
        if args[0] == "edit":
            assert "Saved knee-notes" in result.stdout
    assert (work / "kb.jsonl").read_text(encoding="utf-8").count("\n") == 51
    assert (work / "kb.dot").read_text(encoding="utf-8").startswith("digraph")
