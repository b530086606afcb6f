"""Offline (SPEC §3, issue 8): healthkb never touches the network.

Two ways of looking, because either alone could miss something:

- a whole CLI session in this process (first use of the user's own KB from
  the starter articles, init, add, reindex, search, show, links, check,
  export, graph, read, ...) with the socket functions patched to fail and a
  Python audit hook recording every socket, HTTP or URL event;
- the same kind of session in real processes, including a full build that
  goes through the shard worker processes, with a ``sitecustomize`` that
  installs the hook in every interpreter started (workers included) and
  records which network modules each one had loaded when it exited.

``socket.gethostname`` is allowed: it reads the local host name (the lock
file says who holds it) and sends nothing.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clihelp import article, run_cli, starter_files

REPO_DIR = Path(__file__).resolve().parents[1]
STARTER_DIR = REPO_DIR / "kb"
LOCAL_EVENTS = {"socket.gethostname"}
NETWORK_PREFIXES = ("socket.", "http.client.", "urllib.", "ftplib.", "smtplib.", "webbrowser.")
NETWORK_MODULES = ("socket", "ssl", "http.client", "urllib.request", "ftplib", "smtplib", "asyncio")

_recording: list[str] | None = None  # events seen while a test records; None: not recording
_hook_installed = False


def _audit(event: str, _args) -> None:
    if _recording is not None and event.startswith(NETWORK_PREFIXES) and event not in LOCAL_EVENTS:
        _recording.append(event)


def _record_network_events() -> list[str]:
    """Start recording network audit events in this process (hooks cannot be
    removed, so one is installed once and switched on and off)."""
    global _recording, _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True
    _recording = []
    return _recording


@pytest.fixture
def no_network(monkeypatch):
    """Every way to open a connection or resolve a name raises; events are recorded."""
    attempts: list[str] = []

    def refuse(name):
        def refused(*args, **kwargs):
            attempts.append(name)
            raise OSError(f"network access attempted in an offline test: socket.{name}")
        return refused

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            attempts.append("socket")
            raise OSError("network access attempted in an offline test: socket.socket")

    monkeypatch.setattr(socket, "socket", NoSocket)
    for name in ("create_connection", "create_server", "getaddrinfo", "gethostbyname", "gethostbyname_ex",
                 "gethostbyaddr", "getnameinfo", "socketpair", "fromfd"):
        monkeypatch.setattr(socket, name, refuse(name))
    events = _record_network_events()
    yield attempts, events
    global _recording
    _recording = None


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = run_cli(*args, input=input)
    return result.code, result.stdout, result.stderr




def test_a_whole_session_in_process_never_touches_the_network(no_network, tmp_path, monkeypatch, isolated_env):
    attempts, events = no_network
    # First use with no KB configured: the user's own KB is made from the starter articles.
    monkeypatch.delenv("HEALTHKB_KB")
    monkeypatch.chdir(tmp_path)
    code, out, err = run("list", "--json")
    assert code == 0 and "created your knowledge base" in err
    assert len(json.loads(out)["articles"]) == len(list(STARTER_DIR.rglob("*.txt")))

    folder = tmp_path / "notes"
    assert run("init", str(folder))[0] == 0
    monkeypatch.setenv("HEALTHKB_KB", str(folder))
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    (incoming / "ankle-sprains.txt").write_text(
        article("An ankle sprain stretches the ligaments; rest, ice and gentle movement help.",
                 nxt="Knee pain on stairs"), encoding="utf-8")
    (incoming / "knee-pain-on-stairs.txt").write_text(
        article("Knee pain on stairs often comes from the kneecap; strong thighs help.", prev="Ankle sprains"),
        encoding="utf-8")
    steps = [
        (("add", str(incoming / "ankle-sprains.txt"), str(incoming / "knee-pain-on-stairs.txt")), (0,)),
        (("reindex",), (0,)),
        (("reindex", "--full", "--json"), (0,)),
        (("search", "ligaments"), (0,)),
        (("search", "ligament", "--json", "--explain"), (0,)),
        (("search", "kneecapz"), (0, 1)),  # a misspelling: the rescue and "did you mean" paths
        (("similar", "ankle-sprains"), (0, 1)),
        (("show", "ankle-sprains", "--no-pager"), (0,)),
        (("show", "Knee pain on stairs", "--json"), (0,)),
        (("links", "knee-pain-on-stairs"), (0,)),
        (("links", "ankle-sprains", "--json"), (0,)),
        (("list",), (0,)),
        (("check",), (0, 1)),
        (("check", "--json"), (0, 1)),
        (("export",), (0,)),
        (("export", "--format", "bulk", "-o", str(tmp_path / "bulk.ndjson")), (0,)),
        (("graph", "--format", "json"), (0,)),
        (("stats", "--json"), (0,)),
    ]
    for args, codes in steps:
        code, out, err = run(*args)
        assert code in codes, (args, code, err)
    code, out, _err = run("read", "ankle-sprains", input="n\np\n/knee\n1\nq\n")
    assert code == 0 and "Knee pain on stairs" in out
    code, out, _err = run("links", "ankle-sprains", "--json")
    assert json.loads(out)["next"]["id"] == "knee-pain-on-stairs"
    assert attempts == [] and events == []


SITECUSTOMIZE = textwrap.dedent('''
    """Installed by tests/test_offline.py: forbid and log network use in every
    interpreter started with this folder on PYTHONPATH."""
    import atexit, os, sys

    _LOG = os.environ["HEALTHKB_OFFLINE_LOG"]
    _NETWORK = {prefixes!r}
    _LOCAL = {local!r}
    _MODULES = {modules!r}

    def _cmdline():
        try:
            with open("/proc/self/cmdline", "rb") as handle:
                return handle.read().replace(b"\\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            return " ".join(sys.argv)

    def _write(line):
        with open(_LOG, "a", encoding="utf-8") as handle:
            handle.write(line + "\\n")

    def _hook(event, args):
        if event.startswith(_NETWORK) and event not in _LOCAL:
            _write("NETWORK " + event + " " + _cmdline())
            raise OSError("network use in an offline test: " + event)

    sys.addaudithook(_hook)
    atexit.register(lambda: _write("EXIT modules=" + ",".join(m for m in _MODULES if m in sys.modules) + " " + _cmdline()))
    if "healthkb.index.workers" not in _cmdline() and os.environ.get("HEALTHKB_TEST_PARALLEL_MIN_DOCS"):
        # Shard even a small KB, so the worker processes run under the hook too.
        import healthkb.index.update
        healthkb.index.update.PARALLEL_MIN_DOCS = int(os.environ["HEALTHKB_TEST_PARALLEL_MIN_DOCS"])
''').format(prefixes=NETWORK_PREFIXES, local=tuple(LOCAL_EVENTS), modules=NETWORK_MODULES)


def test_real_processes_and_shard_workers_never_touch_the_network(tmp_path, make_kb):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / "network.log"
    root = make_kb(starter_files())
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
        "HEALTHKB_OFFLINE_LOG": str(log),
        "HEALTHKB_TEST_PARALLEL_MIN_DOCS": "1",
    }
    new = tmp_path / "hydration.txt"
    new.write_text(article("Drink water through the day; thirst lags behind need."), encoding="utf-8")
    for args in (["reindex", "--full", "--json"], ["search", "lumbar"], ["add", str(new)],
                 ["show", "hydration", "--no-pager"], ["links", "hydration"], ["check"], ["export"], ["stats", "--json"]):
        done = subprocess.run([sys.executable, "-m", "healthkb", *args], capture_output=True, text=True,
                              env=env, timeout=120)
        assert done.returncode in (0, 1), (args, done.stderr)
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
        if args[0] == "stats":
            stats = json.loads(done.stdout)
    lines = log.read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if line.startswith("NETWORK")] == []
    exits = [line for line in lines if line.startswith("EXIT")]
    assert len(exits) >= 8, lines  # the hook really ran in every process
    workers = [line for line in exits if "healthkb.index.workers" in line]
    if (os.cpu_count() or 1) > 1:
        assert stats["shards"] >= 2
        assert len(workers) >= stats["shards"], lines
    # The workers never even import a networking module.
    assert all(line.startswith("EXIT modules= ") for line in workers), workers
    assert stats["articles"] == len(list(root.rglob("*.txt")))
