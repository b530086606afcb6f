"""Search start-up (issue 15, item 4): a plain `healthkb search` process
imports only what it needs.  Its time is measured by scripts/bench.py; here
the modules it must not load are checked in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from clihelp import article

# Modules a plain search must not import, and why they were heavy or unneeded.
NOT_FOR_A_PLAIN_SEARCH = (
    "whoosh.qparser",  # ~80 regular expressions; plainquery.py builds plain-word queries
    "whoosh.writing",  # the index writer
    "tabulate",  # tables of list/check
    "healthkb.index.update",  # the writer's side, only when the index is stale
    "healthkb.reader",  # `read`
    "healthkb.links",  # footer links: resolving a REF, `links`, `check`
    "healthkb.cli.browse",
    "healthkb.cli.links_cmds",
    "healthkb.cli.maintain",
    "healthkb.corpus",  # the KB scanner: a search reads its hits' files through files.py
    "healthkb.query.rescue",  # only when nothing matched
    "click",  # `search WORDS` has nothing to parse (cli/searching.py)
    "json",  # only for --json output
    # Standard modules their importers use only in functions a search does not
    # call (query/startup.py): dataclasses' docstring writer, urllib.parse's
    # host check, Whoosh's random names and date arithmetic.
    "inspect", "ipaddress", "random", "calendar", "locale", "html", "shutil", "bz2", "lzma",
)

# What the interpreter had before healthkb ran (site may import pathlib, say,
# for an editable install's finder) is not the search's doing.
PROBE = """
import atexit, sys
before = set(sys.modules)
from healthkb.cli import entry

@atexit.register
def report():
    loaded = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in NAMES)
    morph_en = type(sys.modules.get("whoosh.lang.morph_en")).__name__
    import json  # after the list: the probe's own json is not the search's

    print(json.dumps({"loaded": loaded, "morph_en": morph_en}), file=sys.stderr)

entry()
""".replace("NAMES", repr({name.split(".")[0] for name in NOT_FOR_A_PLAIN_SEARCH} | {"whoosh", "healthkb"}))


def _run(*args: str) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)
    return done, json.loads(done.stderr.strip().splitlines()[-1])


def test_a_plain_search_loads_no_parser_writer_or_other_commands(make_kb):
    make_kb({"back/lumbar.txt": article("Lumbar pain often eases with gentle walking."),
             "sleep/naps.txt": article("Short naps help some people; long ones can spoil the night.")})
    _run("stats")  # build the index first: a fresh KB's first command indexes it
    done, seen = _run("search", "lumbar")
    assert done.returncode == 0 and "back/lumbar" in done.stdout
    assert not set(seen["loaded"]) & set(NOT_FOR_A_PLAIN_SEARCH), sorted(set(seen["loaded"]) & set(NOT_FOR_A_PLAIN_SEARCH))
    assert seen["morph_en"] == "_StandIn"  # English word variations: deferred (query/startup.py)


def test_syntax_and_variations_still_work_after_the_deferral(make_kb):
    make_kb({"back/lumbar.txt": article("Lumbar pain often eases with gentle walking and running."),
             "sleep/naps.txt": article("Short naps help some people; long ones can spoil the night.")})
    done, seen = _run("search", "title:lumbar OR walk*")
    assert done.returncode == 0 and "back/lumbar" in done.stdout
    assert "whoosh.qparser" in seen["loaded"]
    from whoosh.query import Variations

    from healthkb.index.api import open_index
    from healthkb.kb import resolve_kb

    with open_index(resolve_kb(None)) as ix:
        found = ix.searcher().searcher.search(Variations("body", "walked"))
        assert [hit["id"] for hit in found] == ["back/lumbar"]  # "walked" -> "walk" via morph_en


DEFERRED_PROBE = """
import sys
NAMES = ("inspect", "ipaddress", "random", "calendar", "html", "shutil")
before = [name for name in NAMES if name in sys.modules]
from healthkb.query.startup import defer_unused_stdlib_modules, defer_unused_whoosh_modules
defer_unused_stdlib_modules()
defer_unused_whoosh_modules()
deferred = [name for name in NAMES if name not in sys.modules or name in before]
import dataclasses

@dataclasses.dataclass
class Dose:
    milligrams: int
    times_a_day: int = 1

import io
from whoosh.filedb.compound import copyfileobj
from whoosh.highlight import htmlescape
copied = io.BytesIO()
copyfileobj(io.BytesIO(b"abc"), copied)
from urllib.parse import urlsplit
from whoosh.util import random_name
from whoosh.util.times import TimeError, adatetime
try:
    adatetime(2023, 2, 29)  # calendar.monthrange says February 2023 has 28 days
    leap_checked = False
except TimeError:
    leap_checked = True
import inspect
print(deferred)
print(Dose.__doc__, "|", inspect.signature(Dose), "|", type(inspect).__name__)
print(urlsplit("http://[::1]:8080/x").hostname, len(random_name(8)), leap_checked, htmlescape("<b>"), copied.getvalue())
"""


def test_deferred_modules_load_on_first_use():
    done = subprocess.run([sys.executable, "-c", DEFERRED_PROBE], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    deferred, dataclass_line, later_uses = done.stdout.splitlines()
    # none loaded by the deferring itself (an editable install's finder may
    # have loaded ipaddress, through pathlib, before: that is not counted)
    assert deferred == "['inspect', 'ipaddress', 'random', 'calendar', 'html', 'shutil']"
    assert dataclass_line == "Dose(milligrams: int, times_a_day: int = 1) | (milligrams: int, times_a_day: int = 1) -> None | module"
    # each stand-in loaded the real module when a function needed it
    assert later_uses == "::1 8 True &lt;b&gt; b'abc'"
