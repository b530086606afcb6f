"""Hostile and odd input (SPEC §1, §3, §4; issue 8), as one table.

One KB holds everything a user's folder can throw at healthkb: terminal
escape sequences (CSI, OSC title changes, bells, cursor moves, C1 controls,
bidi overrides) in bodies, nav lines, teasers and file names; file names
with spaces, Unicode, quotes, leading dashes and newlines; symlink loops and
symlinks leading outside; NUL bytes, invalid UTF-8, UTF-16 with a BOM; a
1 MB line, 100,000 lines, a 50 MB (sparse) file.  Each row of ``CASES`` runs
one command line against it and states the exit code; every row is also
checked for what must never happen: a control character on stdout or
stderr, output that is not UTF-8, a traceback, the text of a file outside
the KB, a command taking pathologically long.

Commands run in-process (``healthkb.cli.main``) with click's ANSI stripping
turned off (``color=True``), so an escape sequence that a terminal would
receive is seen here too; healthkb's own styling stays off because stdout
is not a terminal.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from healthkb.cli import main
from healthkb.files import STATE_DIR_NAME

from clihelp import article

# Everything a terminal acts on: C0 but tab and newline, DEL, C1, bidi controls.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
HOSTILE = (
    "\x1b[2J\x1b[H"  # clear the screen, cursor home
    "\x1b]0;pwned-title\x07"  # OSC: set the window title, ended by BEL
    "\x07"  # a bare bell
    "\x1b[31m\x1b[5A"  # colour, cursor up five lines
    "\x9b6n"  # 8-bit CSI: report the cursor position (the terminal types back)
    "\x9d2;c1-title\x9c"  # 8-bit OSC ... ST
    "\x1bP+q544e\x1b\\"  # DCS request
    "\x1b[?1049h"  # switch to the alternate screen
    "\x8d\u202e"  # C1 reverse line feed (cursor up), right-to-left override
)
SECRET = "TOPSECRET-OUTSIDE"  # text of a file outside the KB: never in any output
MAX_SECONDS = 30  # per command: anything near this is a pathological slowdown



ARTICLES: dict[str, str | bytes] = {
    "esc/body.txt": article(
        f"Zanzibar lumbar{HOSTILE} care. Posture{HOSTILE} matters for the lower back.",
        prev=f"Posture{HOSTILE} basics", nxt=f"Escape{HOSTILE} target",
        teasers=(f"Escape target{HOSTILE} opens with this text so that", "Plain teaser that matches nothing at a"),
        heading=f"Hostile{HOSTILE} heading",
    ),
    "esc/target.txt": article("Escape target opens with this text so that teasers find it. Lumbar too.",
                               prev=f"Hostile{HOSTILE} heading", heading="Escape target"),
    "names/with space.txt": article("A file name with a space; lumbar."),
    "names/café ünïcode 日本.txt": article("A Unicode file name; lumbar."),
    "names/it's \"quoted\".txt": article("Quotes in the file name; lumbar."),
    "names/-rf.txt": article("A leading dash in a folder; lumbar."),
    "-dash.txt": article("A leading dash at the top; lumbar."),
    "names/new\nline.txt": article("A newline in the name."),
    f"names/esc{HOSTILE}name.txt": article("Escapes in the name."),
    "names/bell\x07.txt": article("A bell in the name."),
    "names/c1\u009b2J.txt": article("A C1 control in the name."),
    "enc/latin1.txt": "Caf\xe9 cr\xe8me br\xfbl\xe9e and lumbar rest |\n".encode("latin-1"),
    "enc/utf16le.txt": b"\xff\xfe" + article("UTF sixteen little endian; lumbar.").encode("utf-16-le"),
    "enc/utf16be.txt": b"\xfe\xff" + article("UTF sixteen big endian; lumbar.").encode("utf-16-be"),
    "enc/nul.txt": b"Looks like text\x00but has a NUL; lumbar |\n",
    "big/one-mb-line.txt": ("Megaline lumbar " + "word " * 210_000 + "|").encode(),
    "big/many-lines.txt": ("Hundredthousand lumbar line\n" * 100_000).encode(),
}
EXPECTED_IDS = {
    "esc/body", "esc/target", "names/with space", "names/café ünïcode 日本", "names/it's \"quoted\"",
    "names/-rf", "-dash", "enc/latin1", "enc/utf16le", "enc/utf16be", "big/one-mb-line", "big/many-lines",
}
EXPECTED_SKIPS = {
    "big/fifty-mb.txt": "larger than 5 MB",
    "loop": "symlink loop",
    "l1.txt": "symlink loop",
    "l2.txt": "symlink loop",
    "outside-link.txt": "symlink to outside the knowledge base",
    "outside-dir": "symlink to outside the knowledge base",
    "names/new?line.txt": "line break in the file name",
    "names/bell?.txt": "control character in the file name",
    "names/c1?2J.txt": "control character in the file name",
    "enc/nul.txt": "binary file",
}


@dataclass
class Paths:
    kb: Path
    outside: Path
    incoming: Path
    missing: Path
    a_file: Path


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> Paths:
    base = tmp_path_factory.mktemp("hostile")
    kb = base / "kb"
    for rel, content in ARTICLES.items():
        target = kb.joinpath(*rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    with open(kb / "big" / "fifty-mb.txt", "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: no 50 MB written to disk
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{SECRET} outsideonly words must never be shown |\n", encoding="utf-8")
    os.symlink(".", kb / "loop")
    os.symlink("l2.txt", kb / "l1.txt")
    os.symlink("l1.txt", kb / "l2.txt")
    os.symlink(outside / "secret.txt", kb / "outside-link.txt")
    os.symlink(outside, kb / "outside-dir")

    incoming = base / "incoming"
    (incoming / "a-folder.txt").mkdir(parents=True)
    (incoming / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (incoming / f"esc{HOSTILE}new.txt").write_text(article("An article with escapes in its name."), encoding="utf-8")
    (incoming / "with space.txt").write_text(article("Would replace an existing article."), encoding="utf-8")
    a_file = base / "a-file.txt"
    a_file.write_text("not a folder", encoding="utf-8")
    return Paths(kb, outside, incoming, base / "no-such-folder", a_file)


def _kb_files(root: Path) -> dict[str, bytes]:
    found = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != STATE_DIR_NAME]
        for name in names:
            path = Path(folder, name)
            if not path.is_symlink():
                found[str(path.relative_to(root))] = path.read_bytes()
    return found


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout)

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # "{kb}", "{incoming}", ... are filled in from Paths
    codes: tuple[int, ...] = (0,)
    input: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[Result, Paths], None] | None = None
    changes_nothing: bool = False  # the KB's files must stay byte for byte as they were


def _json_ids(result: Result) -> set[str]:
    return {a["id"] for a in result.json["articles"]}


def _check_skips(result: Result, paths: Paths) -> None:
    report = result.json
    skipped = {s["path"]: s["reason"] for s in report["skipped"]}
    for rel, reason in EXPECTED_SKIPS.items():
        assert skipped.get(rel) == reason, (rel, skipped)
    assert any("pwned" in path and "control character" in reason for path, reason in skipped.items())
    assert report["added"] == len(EXPECTED_IDS)


def _check_show_json(result: Result, paths: Paths) -> None:
    doc = result.json
    assert doc["title"] == "Hostile heading"
    assert doc["body"].startswith("Zanzibar lumbar care. Posture matters")
    assert doc["prev"]["text"] == "Posture basics" and doc["prev"]["status"] == "missing"
    assert (doc["next"]["text"], doc["next"]["id"]) == ("Escape target", "esc/target")
    assert doc["related"][0]["id"] == "esc/target"


def _check_problems(result: Result, paths: Paths) -> None:
    problems = result.json["problems"]
    assert ("encoding", "enc/latin1") in {(p["kind"], p["id"]) for p in problems}
    skipped = {p["id"] for p in problems if p["kind"] == "skipped"}
    assert set(EXPECTED_SKIPS) <= skipped


def _has(*needles: str) -> Callable[[Result, Paths], None]:
    def check(result: Result, paths: Paths) -> None:
        for needle in needles:
            assert needle in result.text, needle
    return check


def _hits(*ids: str) -> Callable[[Result, Paths], None]:
    def check(result: Result, paths: Paths) -> None:
        assert [h["id"] for h in result.json["hits"]] == list(ids)
    return check


def _no_output(result: Result, paths: Paths) -> None:
    assert result.stdout == ""


REF_HINT = "no article"
CASES = [
    # -- the index: what is an article, what is skipped and why
    Case("reindex-full-json", ("--kb", "{kb}", "reindex", "--full", "--json"), check=_check_skips),
    Case("reindex-human", ("--kb", "{kb}", "reindex", "--full"), check=_has("skipped names/new?line.txt")),
    Case("list-json", ("--kb", "{kb}", "list", "--json"),
         check=lambda r, p: (_json_ids(r) == EXPECTED_IDS) or pytest.fail(str(_json_ids(r) ^ EXPECTED_IDS))),
    Case("list", ("--kb", "{kb}", "list"), check=_has("Hostile heading", "names/café ünïcode 日本", "-dash")),
    Case("stats", ("--kb", "{kb}", "stats")),
    # -- escape sequences in body, nav lines, teasers, headings: every command and mode
    Case("search", ("--kb", "{kb}", "search", "zanzibar"), check=_has("esc/body", "Hostile heading")),
    Case("search-json", ("--kb", "{kb}", "search", "zanzibar", "--json"), check=_hits("esc/body")),
    Case("search-explain", ("--kb", "{kb}", "search", "posture", "--explain")),
    Case("search-escape-payload", ("--kb", "{kb}", "search", "pwned"), codes=(1,)),
    Case("search-in-query", ("--kb", "{kb}", "search", f"zanzibar{HOSTILE}", "--json"), check=_hits("esc/body")),
    Case("show", ("--kb", "{kb}", "show", "esc/body", "--no-pager"), check=_has("Hostile heading", "Escape target")),
    Case("show-raw", ("--kb", "{kb}", "show", "esc/body", "--raw", "--no-pager"), check=_has("Zanzibar lumbar care")),
    Case("show-json", ("--kb", "{kb}", "show", "esc/body", "--json"), check=_check_show_json),
    Case("show-target", ("--kb", "{kb}", "show", "esc/target", "--no-pager"), check=_has("Hostile heading")),
    Case("links", ("--kb", "{kb}", "links", "esc/body"), check=_has("Posture basics", "esc/target")),
    Case("links-json", ("--kb", "{kb}", "links", "esc/target", "--json"),
         check=lambda r, p: {(b["id"], b["kind"]) for b in r.json["backlinks"]} == {("esc/body", "next"), ("esc/body", "related")}
         or pytest.fail(r.stdout)),
    Case("similar", ("--kb", "{kb}", "similar", "esc/body"), codes=(0, 1)),
    Case("check", ("--kb", "{kb}", "check"), codes=(1,), check=_has("encoding", "enc/latin1", "symlink loop")),
    Case("check-json", ("--kb", "{kb}", "check", "--json"), codes=(1,), check=_check_problems),
    Case("export", ("--kb", "{kb}", "export"), check=lambda r, p: len(r.stdout.splitlines()) == len(EXPECTED_IDS) or pytest.fail()),
    Case("export-bulk", ("--kb", "{kb}", "export", "--format", "bulk")),
    Case("graph-dot", ("--kb", "{kb}", "graph", "--missing"), check=_has("esc/body")),
    Case("graph-json", ("--kb", "{kb}", "graph", "--format", "json", "--missing")),
    Case("read", ("--kb", "{kb}", "read", "esc/body"), input="n\np\n1\nb\n/zanzibar\n1\ng -dash\nq\n",
         check=_has("Hostile heading", "Escape target")),
    # -- odd but valid file names
    Case("show-space", ("--kb", "{kb}", "show", "names/with space", "--json")),
    Case("show-unicode", ("--kb", "{kb}", "show", "names/café ünïcode 日本", "--json")),
    Case("show-quotes", ("--kb", "{kb}", "show", "names/it's \"quoted\"", "--json")),
    Case("show-dash-folder", ("--kb", "{kb}", "show", "names/-rf", "--no-pager")),
    Case("show-dash-after-separator", ("--kb", "{kb}", "show", "--no-pager", "--", "-dash"), check=_has("leading dash")),
    Case("show-dash-as-option", ("--kb", "{kb}", "show", "-dash"), codes=(2,), check=_no_output),
    # -- encodings and sizes
    Case("show-utf16-le", ("--kb", "{kb}", "show", "enc/utf16le", "--json"),
         check=lambda r, p: r.json["body"] == "UTF sixteen little endian; lumbar." or pytest.fail(r.stdout)),
    Case("show-utf16-be", ("--kb", "{kb}", "show", "enc/utf16be", "--no-pager"), check=_has("UTF sixteen big endian")),
    Case("show-cp1252", ("--kb", "{kb}", "show", "enc/latin1", "--json"),
         check=lambda r, p: r.json["body"].startswith("Café crème brûlée") or pytest.fail(r.stdout)),
    Case("show-nul", ("--kb", "{kb}", "show", "enc/nul"), codes=(1,), check=_no_output),
    Case("search-one-mb-line", ("--kb", "{kb}", "search", "megaline", "--json"), check=_hits("big/one-mb-line")),
    Case("show-one-mb-line", ("--kb", "{kb}", "show", "big/one-mb-line", "--no-pager"),
         check=lambda r, p: len(r.stdout) > 1_000_000 or pytest.fail()),
    Case("show-many-lines", ("--kb", "{kb}", "show", "big/many-lines", "--raw", "--no-pager"),
         check=lambda r, p: r.stdout.count("\n") >= 99_999 or pytest.fail()),
    Case("search-many-lines", ("--kb", "{kb}", "search", "hundredthousand", "--json"), check=_hits("big/many-lines")),
    # -- symlinks: never followed out of the KB
    Case("search-outside", ("--kb", "{kb}", "search", "outsideonly"), codes=(1,)),
    Case("show-outside-link", ("--kb", "{kb}", "show", "outside-link"), codes=(1,)),
    Case("show-outside-dir", ("--kb", "{kb}", "show", "outside-dir/secret"), codes=(1,)),
    Case("show-loop", ("--kb", "{kb}", "show", "loop/esc/body"), codes=(1,)),
    # -- REFs: no path traversal, no globbing, nothing empty
    Case("ref-parent", ("--kb", "{kb}", "show", "../outside/secret"), codes=(1,), check=_has(REF_HINT)),
    Case("ref-etc-passwd", ("--kb", "{kb}", "links", "../../../../etc/passwd"), codes=(1,), check=_has(REF_HINT)),
    Case("ref-absolute", ("--kb", "{kb}", "show", "/etc/passwd"), codes=(1,), check=_has(REF_HINT)),
    Case("ref-absolute-in-kb", ("--kb", "{kb}", "show", "{kb}/esc/body.txt"), codes=(1,), check=_has(REF_HINT)),
    Case("ref-absolute-outside", ("--kb", "{kb}", "show", "{outside}/secret.txt"), codes=(1,), check=_has(REF_HINT)),
    Case("ref-star", ("--kb", "{kb}", "show", "*"), codes=(1,), check=_has("patterns are not expanded")),
    Case("ref-folder-star", ("--kb", "{kb}", "links", "esc/*"), codes=(1,), check=_has("patterns are not expanded")),
    Case("ref-class", ("--kb", "{kb}", "show", "[a-z]*"), codes=(1,)),
    Case("ref-question", ("--kb", "{kb}", "show", "?"), codes=(1, 2)),
    Case("ref-empty", ("--kb", "{kb}", "show", ""), codes=(2,), check=_has("empty article reference")),
    Case("ref-blank", ("--kb", "{kb}", "links", "   "), codes=(2,), check=_has("empty article reference")),
    Case("ref-escapes", ("--kb", "{kb}", "show", f"{HOSTILE}esc/body", "--json"), codes=(0, 1)),
    Case("read-ref-parent", ("--kb", "{kb}", "read", "../outside/secret"), codes=(1,), input="q\n"),
    # -- which KB: a file, a missing folder, a name full of escapes
    Case("env-kb-file", ("search", "lumbar"), codes=(3,), env={"HEALTHKB_KB": "{a_file}"}, check=_has("not a folder")),
    Case("env-kb-missing", ("list",), codes=(3,), env={"HEALTHKB_KB": "{missing}"}, check=_has("does not exist")),
    Case("env-kb-missing-reindex", ("reindex",), codes=(3,), env={"HEALTHKB_KB": "{missing}"}),
    Case("env-kb-file-add", ("add", "{incoming}/with space.txt"), codes=(3,), env={"HEALTHKB_KB": "{a_file}"}),
    Case("option-kb-escapes", ("--kb", f"{{missing}}{HOSTILE}", "show", "x"), codes=(3,), check=_has("does not exist")),
    # -- add: refused without changing anything
    Case("add-folder", ("--kb", "{kb}", "add", "{incoming}/a-folder.txt"), codes=(2,), changes_nothing=True,
         check=_has("is a folder")),
    Case("add-missing", ("--kb", "{kb}", "add", "{incoming}/nope.txt"), codes=(2,), changes_nothing=True,
         check=_has("no such file")),
    Case("add-binary", ("--kb", "{kb}", "add", "{incoming}/binary.txt"), codes=(2,), changes_nothing=True,
         check=_has("not a text article")),
    Case("add-existing", ("--kb", "{kb}", "add", "--into", "names", "{incoming}/with space.txt"), codes=(2,),
         changes_nothing=True, check=_has("already exists", "--force")),
    Case("add-escape-name", ("--kb", "{kb}", "add", f"{{incoming}}/esc{HOSTILE}new.txt"), codes=(2,),
         changes_nothing=True, check=_has("cannot be used for an article")),
    Case("add-outside-into", ("--kb", "{kb}", "add", "--into", "../escape", "{incoming}/binary.txt"), codes=(2,),
         changes_nothing=True),
    # -- written output named with escapes
    Case("export-to-odd-name", ("--kb", "{kb}", "export", "-o", f"{{incoming}}/out{HOSTILE}.jsonl"),
         check=_has("exported 12 articles")),
]


def _fill(text: str, paths: Paths) -> str:
    for name in ("kb", "outside", "incoming", "missing", "a_file"):
        text = text.replace("{" + name + "}", str(getattr(paths, name)))
    return text


def _run(case: Case, paths: Paths) -> tuple[Result, bytes, bytes]:
    runner = CliRunner()
    env = {key: _fill(value, paths) for key, value in case.env.items()}
    # color=True: click must not strip escape codes, as it would when not on a terminal.
    with runner.isolation(input=case.input, env=env, color=True) as (out, err, _mixed):
        try:
            main([_fill(arg, paths) for arg in case.args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        raw_out, raw_err = out.getvalue(), err.getvalue()
    return Result(code, raw_out.decode("utf-8"), raw_err.decode("utf-8")), raw_out, raw_err


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input(paths, case):
    before = _kb_files(paths.kb) if case.changes_nothing else None
    started = time.monotonic()
    result, raw_out, raw_err = _run(case, paths)  # .decode("utf-8") above: output is always UTF-8
    elapsed = time.monotonic() - started
    assert result.code in case.codes, (result.code, result.stderr[-2000:])
    for name, stream in (("stdout", result.stdout), ("stderr", result.stderr)):
        found = CONTROL.findall(stream)
        assert not found, f"{name} carries control characters {sorted(set(found))!r}"
    assert b"\x1b" not in raw_out + raw_err
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert SECRET not in result.text
    assert elapsed < MAX_SECONDS, f"{case.id} took {elapsed:.1f} s"
    if case.check:
        case.check(result, paths)
    if before is not None:
        assert _kb_files(paths.kb) == before, "a refused command changed the knowledge base"
