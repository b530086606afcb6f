"""A read-only knowledge base (SPEC §3, issue 8): search still works, the
index goes to the user cache folder, the user is told once, and nothing is
written into the KB.

Permission bits only bind a process that cannot override them.  Tests often
run as root, and root writes through ``chmod a-w``; so, as root, the CLI runs
under ``setpriv`` with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped from
its capability bounding set: still uid 0, but the kernel now checks the mode
bits as it would for any user (and ``access()`` answers accordingly).  A
probe write proves that the mechanism holds before the test relies on it;
as a normal user the CLI runs as it is.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from healthkb.files import STATE_DIR_NAME

REPO_DIR = Path(__file__).resolve().parents[1]
STARTER_DIR = REPO_DIR / "kb"
NOTICE = "the knowledge base folder is read-only; its index is kept in "
DROP_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def _prefix() -> list[str]:
    return DROP_OVERRIDE if os.geteuid() == 0 else []


def _set_writable(root: Path, writable: bool) -> None:
    """chmod the whole tree: a-w (read-only), or u+w back for clean-up."""
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            if path.is_symlink():
                continue
            mode = path.stat().st_mode
            os.chmod(path, mode | stat.S_IWUSR if writable else mode & ~0o222)
    mode = root.stat().st_mode
    os.chmod(root, mode | stat.S_IWUSR if writable else mode & ~0o222)


def _unprivileged(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([*_prefix(), sys.executable, "-m", "healthkb", *args], capture_output=True, text=True,
                          timeout=120)
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    return done


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under root (folders as None), the index folder included."""
    found: dict[str, bytes | None] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            found[str(Path(folder, name).relative_to(root))] = None
        for name in files:
            path = Path(folder, name)
            found[str(path.relative_to(root))] = path.read_bytes()
    return found


@pytest.fixture(params=["with-index-folder", "without-index-folder"])
def read_only_kb(request, make_kb, isolated_env) -> Path:
    if _prefix() and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permission bits cannot be made to bind")
    files = {p.relative_to(STARTER_DIR).as_posix(): p.read_bytes() for p in STARTER_DIR.glob("[bs]*/*.txt")}
    root = make_kb(files)
    if request.param == "with-index-folder":
        # Made while the KB was writable (`healthkb init`, then an index), then locked.
        subprocess.run([sys.executable, "-m", "healthkb", "reindex"], check=True, capture_output=True, timeout=120)
        assert (root / STATE_DIR_NAME / "catalog.sqlite").is_file()
    _set_writable(root, False)
    request.addfinalizer(lambda: _set_writable(root, True))
    probe = subprocess.run([*_prefix(), sys.executable, "-c", f"open({str(root / 'probe.txt')!r}, 'w')"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode == 0:
        os.unlink(root / "probe.txt")
        pytest.skip("this process can write to a read-only folder: the test would prove nothing")
    assert "PermissionError" in probe.stderr
    return root


def _notices(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("healthkb: ")]


def test_search_works_from_the_cache_and_the_user_is_told_once(read_only_kb, isolated_env):
    before = _snapshot(read_only_kb)
    first = _unprivileged("search", "sleep", "--json")
    assert first.returncode == 0, first.stderr
    hits = [h["id"] for h in json.loads(first.stdout)["hits"]]
    assert hits and set(hits) <= {p.relative_to(read_only_kb).with_suffix("").as_posix() for p in read_only_kb.rglob("*.txt")}
    [notice] = _notices(first.stderr)
    assert notice.startswith("healthkb: " + NOTICE)
    index_dir = Path(notice.removeprefix("healthkb: " + NOTICE))
    assert index_dir.is_relative_to(isolated_env.cache)  # the user cache folder (XDG_CACHE_HOME)
    assert (index_dir / "catalog.sqlite").is_file()

    second = _unprivileged("search", "sleep", "--json")
    assert second.returncode == 0
    assert _notices(second.stderr) == []  # told once, not on every run
    assert [h["id"] for h in json.loads(second.stdout)["hits"]] == hits
    assert _snapshot(read_only_kb) == before  # nothing written into the KB


def test_every_reading_command_works_and_add_is_refused_cleanly(read_only_kb, tmp_path):
    before = _snapshot(read_only_kb)
    assert _unprivileged("reindex").returncode == 0  # builds the index in the cache, with the notice
    some_id = sorted(p.relative_to(read_only_kb).with_suffix("").as_posix() for p in read_only_kb.glob("sleep/*.txt"))[0]
    for args, codes in [
        (["search", "insomnia"], (0,)),
        (["show", some_id, "--no-pager"], (0,)),
        (["show", some_id, "--json"], (0,)),
        (["links", some_id], (0,)),
        (["list", "--json"], (0,)),
        (["check"], (0, 1)),
        (["export"], (0,)),
        (["reindex", "--full"], (0,)),
    ]:
        done = _unprivileged(*args)
        assert done.returncode in codes, (args, done.stderr)
        assert _notices(done.stderr) == [], (args, done.stderr)
    stats = json.loads(_unprivileged("stats", "--json").stdout)
    assert stats["articles"] == len(list(read_only_kb.rglob("*.txt")))
    assert not Path(stats["index"]).is_relative_to(read_only_kb)

    new = tmp_path / "new-article.txt"
    new.write_text("A new article that cannot be copied in. |\n", encoding="utf-8")
    refused = _unprivileged("add", str(new))
    assert refused.returncode == 3, refused.stderr
    # The article's own name, not the temporary file the copy was written to.
    assert f"permission denied while writing {read_only_kb / 'new-article.txt'}" in refused.stderr
    assert _snapshot(read_only_kb) == before
