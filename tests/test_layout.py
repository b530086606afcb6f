"""Human output fits the terminal: every command, at 60, 80 and 120 columns,
and the odd widths (20, 1, unknown) and what gets shortened how.

Runs in-process (piped, so no pager and no colour), with COLUMNS set the
way a shell sets it; the starter KB plus the seed article (whose footer
yields one-way links, so `check` has a table to draw)."""

from __future__ import annotations

import pytest

from clihelp import STARTER_DIR, run_cli, starter_files
from healthkb.render import display_width, fit, middle_cut, table

SEED = "000_ec7fe29246c6fc0e"
LONG_ID = "infections/colds-and-fevers-how-to-look-after-yourself-at-home"  # 62 characters

# Every command with human output, and a few ways of calling them.  --json,
# --raw, export and graph are for programs and stay whole.
COMMANDS = [
    ("search", "lumbar"),
    ("search", "lumbar", "-n", "1", "--page", "2"),
    ("search", "zzzqqq"),
    ("search", "colds fevers", "--explain"),
    ("similar", LONG_ID),
    ("show", LONG_ID),
    ("show", SEED),
    ("show", "is"),  # ambiguous: the candidates, as an error
    ("show", "nothing-like-this"),
    ("links", SEED),
    ("links", LONG_ID),
    ("list",),
    ("list", "--sort", "title"),
    ("check",),
    ("stats",),
    ("reindex",),
    ("reindex", "--full"),
    ("read", LONG_ID),
    ("init",),
    ("search", "--bogus"),
    ("frobnicate",),
]
HELP = [(), ("search",), ("show",), ("links",), ("check",), ("read",), ("edit",), ("new",), ("completion",), ("export",), ("graph",)]
MESSAGE_PREFIXES = ("healthkb: ", "hint: ", "usage: ")
READ_KEYS = "n\n2\n/sleep\n1\nb\ng colds\n?\nzz\np\nq\n"


@pytest.fixture
def kb(make_kb, seed_path):
    files = starter_files()
    files[f"{SEED}.txt"] = seed_path.read_bytes()
    root = make_kb(files)
    assert run_cli("reindex").code == 0
    return root


def too_wide(text: str, width: int) -> list[str]:
    return [line for line in text.split("\n") if display_width(line) > width]


def help_text(args, capsys) -> str:
    """--help printed by click itself (CliRunner would force 80 columns)."""
    from healthkb.cli import cli

    with pytest.raises(SystemExit) as exit_info:
        cli.main([*args, "--help"], prog_name="healthkb")
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("width", [60, 80, 120])
def test_no_line_of_human_output_is_wider_than_columns(kb, width, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.chdir(tmp_path / "env")  # `init` makes the current folder a KB
    for args in COMMANDS:
        result = run_cli(*args, input=READ_KEYS if args[0] == "read" else None)
        assert result.stdout or result.stderr, args
        assert too_wide(result.stdout, width) == [], args
        # Messages (healthkb: …, hint: …, usage: …) wrap only on a terminal
        # (see test_screens); the status lines always fit.
        status = [line for line in result.stderr.split("\n") if not line.startswith(MESSAGE_PREFIXES) and line[:2] != "  "]
        assert too_wide("\n".join(status), width) == [], args
    for args in HELP:
        text = help_text(args, capsys)
        assert "Usage: healthkb" in text and too_wide(text, width) == [], args


def test_add_edit_style_summaries_fit(kb, monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", "60")
    source = tmp_path / "a-note-with-a-rather-long-file-name-about-sleep-and-naps.txt"
    source.write_text("Naps help some people and not others. |\n>>: Is a lunchtime nap good for you?\n", encoding="utf-8")
    result = run_cli("add", str(source))
    assert result.code == 0 and "Added 1 article" in result.stdout
    assert too_wide(result.stdout + result.stderr, 60) == []


ODD_WIDTH_COMMANDS = [("search", "lumbar"), ("show", LONG_ID), ("links", SEED), ("list",), ("check",), ("stats",)]


def outputs(monkeypatch, columns: str) -> list[str]:
    monkeypatch.setenv("COLUMNS", columns)
    results = [run_cli(*args) for args in ODD_WIDTH_COMMANDS]
    assert all(r.code in (0, 1) for r in results)
    # Leave out the one line that changes from run to run (stats: "last update 1 s ago").
    return ["\n".join(line for line in r.stdout.split("\n") if not line.startswith("last update")) for r in results]


def test_odd_widths_lay_out_at_a_sane_width(kb, monkeypatch):
    """COLUMNS=1 is laid out as 20 (the narrowest layout there is); an
    unknown width (0, nonsense, empty) as 80, as when piped."""
    at_80, at_20 = outputs(monkeypatch, "80"), outputs(monkeypatch, "20")
    assert outputs(monkeypatch, "1") == at_20
    for unknown in ("0", "wide", ""):
        assert outputs(monkeypatch, unknown) == at_80
    for narrow, normal in zip(at_20, at_80):
        if not normal:  # check: no problems, nothing to lay out
            continue
        assert max(map(display_width, narrow.split("\n"))) < max(map(display_width, normal.split("\n")))
    body = at_20[1].split("\n\n")[1]  # show: the first paragraph of the body
    assert body and max(map(display_width, body.split("\n"))) <= 20


def test_shortening_rules():
    # Titles end with "…" at a word boundary; paths lose their middle; ids keep their start.
    assert fit("Colds and fevers: how to look after yourself at home", 24) == "Colds and fevers: how…"
    assert middle_cut("infections/colds-and-fevers-how-to-look-after-yourself-at-home.txt", 30) == "infections/cold…lf-at-home.txt"
    assert fit(LONG_ID, 30) == LONG_ID[:29] + "…"
    # Wide characters take two columns and are never cut in half.
    assert display_width("頭痛と発熱") == 10 and display_width(fit("頭痛と発熱の話", 9)) <= 9
    drawn = table([(LONG_ID, "Colds and fevers: how to look after yourself at home", 300)], ["id", "title", "words"], 80,
                  shrink=((1, 24), (0, 30)))
    assert max(map(display_width, drawn.split("\n"))) <= 80
    assert LONG_ID[:30] in drawn and "Colds and fevers" in drawn


def test_json_and_raw_stay_whole(kb, monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    doc = run_cli("list", "--json").json
    assert LONG_ID in [a["id"] for a in doc["articles"]]
    raw = run_cli("show", SEED, "--raw").stdout
    assert raw.rstrip("\n") == (STARTER_DIR.parent / "tests" / "data" / f"{SEED}.txt").read_text(encoding="utf-8-sig").replace("\r\n", "\n").rstrip("\n")


def test_a_file_name_is_always_a_ref(make_kb):
    """drinks/coffee-facts.txt takes its title from a neighbour's nav line;
    its file name, with or without folder and .txt, still names it."""
    make_kb({
        "drinks/coffee-facts.txt": "Coffee has caffeine, which keeps some people awake. |\n>>: Tea and sleep\n",
        "drinks/tea-and-sleep.txt": "Tea has less caffeine than coffee. |\n<<: All about a morning cup\n",
    })
    assert run_cli("show", "coffee-facts", "--json").json["title"] == "All about a morning cup"
    for ref in ("coffee-facts", "coffee-facts.txt", "drinks/coffee-facts", "drinks/coffee-facts.txt", "Coffee-Facts"):
        result = run_cli("show", ref, "--json")
        assert result.code == 0 and result.json["id"] == "drinks/coffee-facts", ref


@pytest.mark.parametrize("env", [
    {}, {"COLUMNS": "120"}, {"LINES": "50"}, {"COLUMNS": "100", "LINES": "30"},
    {"COLUMNS": "wide"}, {"COLUMNS": "0", "LINES": "-3"},
])
def test_the_terminal_size_is_what_shutil_would_say(monkeypatch, env):
    # cli.pager.terminal_size stands in for shutil.get_terminal_size (a
    # search does not import shutil): same answers from the same sources.
    import shutil

    from healthkb.cli.pager import terminal_size

    for name in ("COLUMNS", "LINES"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert terminal_size() == shutil.get_terminal_size((80, 24))
