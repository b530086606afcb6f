"""A `healthkb` process's start and end (cli/process.py): the entry point
pauses garbage collection during start-up and the command's work resumes it;
a reading command leaves without the interpreter's teardown, with its whole
output and its exit code; main() run inside another program leaves that
program's collector and exit alone."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys

import pytest

from clihelp import article

# Spies on process.resume_collection, reports the collector's state, and
# leaves an object whose finaliser speaks only if the interpreter tears
# __main__ down (the usual exit), not after os._exit.
PROBE = """
import atexit, gc, json, os, sys
import healthkb.cli.process as process

seen = {"at_start": gc.isenabled()}

@atexit.register  # exit handlers run on either way out
def report():
    seen["at_end"] = gc.isenabled()
    print(json.dumps(seen), file=sys.stderr, flush=True)

real_resume = process.resume_collection

def spy():
    seen["resumes"] = seen.get("resumes", 0) + 1
    seen.setdefault("before", gc.isenabled())
    real_resume()
    seen.setdefault("after", gc.isenabled())
    seen.setdefault("frozen", gc.get_freeze_count())

process.resume_collection = spy

class TornDown:
    def __del__(self):
        os.write(2, b"\\nTORN DOWN\\n")

sentinel = TornDown()
from healthkb.cli import entry
entry()
"""


def _probe(*args: str) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)
    report = next(line for line in reversed(done.stderr.splitlines()) if line.startswith("{"))
    return done, json.loads(report)


def test_the_entry_point_pauses_collection_until_the_command_works(make_kb):
    make_kb({"back/lumbar.txt": article("Lumbar pain often eases with gentle walking.")})
    done, seen = _probe("search", "lumbar")
    assert done.returncode == 0 and "back/lumbar" in done.stdout
    assert seen["at_start"] is True  # a fresh interpreter collects
    assert seen["resumes"] >= 1 and seen["before"] is False  # paused through the imports
    assert seen["after"] is True and seen["frozen"] > 10_000  # start-up's objects frozen, collecting again
    assert seen["at_end"] is True


def test_a_command_without_a_kb_never_resumes_and_exits_the_usual_way():
    done, seen = _probe("--version")
    assert done.returncode == 0 and done.stdout.startswith("healthkb ")
    assert "resumes" not in seen and seen["at_end"] is False  # short: the process ends paused
    assert "TORN DOWN" in done.stderr  # not a reading command: the interpreter's own exit


def test_a_reading_command_leaves_without_teardown_and_keeps_its_exit_code(make_kb):
    make_kb({"back/lumbar.txt": article("Lumbar pain often eases with gentle walking.")})
    found, _ = _probe("search", "lumbar")
    missing, _ = _probe("search", "zzyzx")
    assert found.returncode == 0 and "back/lumbar" in found.stdout
    assert missing.returncode == 1 and "0 results" in missing.stderr
    assert "TORN DOWN" not in found.stderr + missing.stderr


def test_a_writing_command_exits_the_usual_way(make_kb):
    make_kb({"back/lumbar.txt": article("Lumbar pain often eases with gentle walking.")})
    done, _ = _probe("reindex")
    assert done.returncode == 0 and "TORN DOWN" in done.stderr


def test_the_quick_exit_delivers_all_of_a_long_output_to_a_pipe(make_kb):
    make_kb({f"topic{n % 7}/article-{n}.txt": article(f"Article {n} is about walking {n} steps.") for n in range(400)})
    subprocess.run([sys.executable, "-m", "healthkb", "stats"], capture_output=True, timeout=120)
    reader = subprocess.Popen([sys.executable, "-m", "healthkb", "list", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    assert len(json.loads(out)["articles"]) == 400  # every byte arrived: the JSON closes


@pytest.mark.parametrize("args", [["--version"], ["search", "lumbar"]])
def test_main_inside_another_program_leaves_its_collector_alone(make_kb, args):
    from healthkb.cli import main

    make_kb({"back/lumbar.txt": article("Lumbar pain often eases with gentle walking.")})
    frozen = gc.get_freeze_count()
    with pytest.raises(SystemExit):
        main(args)
    assert gc.isenabled() and gc.get_freeze_count() == frozen
