"""The garbage collector in a `healthkb` process (cli/collector.py): the
process entry point pauses it during start-up, the command's work resumes
it, and main() run inside another program leaves that program's collector
alone."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

import pytest

from clihelp import article

# Spies on collector.resume and reports the collector's state on each side.
PROBE = """
import gc, json, sys
import healthkb.cli.collector as collector

seen = {"at_start": gc.isenabled()}
real_resume = collector.resume

def spy():
    seen.setdefault("resumes", 0)
    seen["resumes"] += 1
    seen.setdefault("before", gc.isenabled())
    real_resume()
    seen.setdefault("after", gc.isenabled())
    seen.setdefault("frozen", gc.get_freeze_count())

collector.resume = spy
from healthkb.cli import entry
try:
    entry()
finally:
    seen["at_end"] = gc.isenabled()
    print(json.dumps(seen), file=sys.stderr)
"""


def _probe(*args: str) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)
    return done, json.loads(done.stderr.strip().splitlines()[-1])


def test_the_entry_point_pauses_collection_until_the_command_works(make_kb):
    make_kb({"back/lumbar.txt": article("Lumbar pain often eases with gentle walking.")})
    done, seen = _probe("search", "lumbar")
    assert done.returncode == 0 and "back/lumbar" in done.stdout
    assert seen["at_start"] is True  # a fresh interpreter collects
    assert seen["resumes"] >= 1 and seen["before"] is False  # paused through the imports
    assert seen["after"] is True and seen["frozen"] > 10_000  # start-up's objects frozen, collecting again
    assert seen["at_end"] is True


def test_a_command_without_a_kb_never_resumes_and_still_exits_cleanly():
    done, seen = _probe("--version")
    assert done.returncode == 0 and done.stdout.startswith("healthkb ")
    assert "resumes" not in seen and seen["at_end"] is False  # short: the process ends paused


@pytest.mark.parametrize("args", [["--version"], ["search", "lumbar"]])
def test_main_inside_another_program_leaves_its_collector_alone(make_kb, args):
    from healthkb.cli import main

    make_kb({"back/lumbar.txt": article("Lumbar pain often eases with gentle walking.")})
    frozen = gc.get_freeze_count()
    with pytest.raises(SystemExit):
        main(args)
    assert gc.isenabled() and gc.get_freeze_count() == frozen
