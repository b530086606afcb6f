"""Shared test set-up: keep every test out of the real home folder, and give
tests the seed article and a quick way to lay out a KB on disk.

The autouse ``isolated_env`` fixture points HOME, the XDG folders (which is
where platformdirs puts the user KB and the cache on Linux) and HEALTHKB_KB at
folders under ``tmp_path``, and removes the variables that change behaviour
(HEALTHKB_DEBUG, NO_COLOR), so no test can read or write the user's own files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

# The box that runs CI is slow and shared: timing-based failures are noise.
settings.register_profile("healthkb", deadline=None)
settings.load_profile("healthkb")

SEED_NAME = "000_ec7fe29246c6fc0e.txt"
TESTS_DIR = Path(__file__).resolve().parent
REPO_DIR = TESTS_DIR.parent
# In the workspace shared/ sits beside the repo; CI copies it beside its clone.
SHARED_SEED = REPO_DIR.parent / "shared" / "seeds" / SEED_NAME
# A byte-identical copy, so the seed tests run (never skip) without shared/.
BUNDLED_SEED = TESTS_DIR / "data" / SEED_NAME


@dataclass(frozen=True)
class IsolatedEnv:
    home: Path
    data: Path
    cache: Path
    config: Path
    kb: Path


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IsolatedEnv:
    root = tmp_path / "env"
    env = IsolatedEnv(
        home=root / "home",
        data=root / "xdg-data",
        cache=root / "xdg-cache",
        config=root / "xdg-config",
        kb=tmp_path / "kb",
    )
    for folder in (env.home, env.data, env.cache, env.config, env.kb):
        folder.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(env.home))
    monkeypatch.setenv("USERPROFILE", str(env.home))  # Path.home() on Windows
    monkeypatch.setenv("XDG_DATA_HOME", str(env.data))
    monkeypatch.setenv("XDG_CACHE_HOME", str(env.cache))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(env.config))
    monkeypatch.setenv("XDG_STATE_HOME", str(root / "xdg-state"))
    monkeypatch.setenv("HEALTHKB_KB", str(env.kb))
    monkeypatch.delenv("HEALTHKB_DEBUG", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return env


@pytest.fixture
def seed_path() -> Path:
    """The real scraped article: the shared copy when present, else ours."""
    return SHARED_SEED if SHARED_SEED.is_file() else BUNDLED_SEED


@pytest.fixture
def seed_text(seed_path: Path) -> str:
    # newline="" keeps the file's own line ends: the parser must see them.
    with open(seed_path, encoding="utf-8", newline="") as handle:
        return handle.read()


def write_kb(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write ``{relative path: text or bytes}`` under ``root``; return root.

    Text is written as UTF-8 with no newline translation, so "\\r\\n" in a
    test reaches the file as CR LF.
    """
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        target = root.joinpath(*rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode("utf-8") if isinstance(content, str) else content
        target.write_bytes(data)
    return root


@pytest.fixture
def make_kb(isolated_env: IsolatedEnv) -> Callable[..., Path]:
    """``make_kb(files, root=None)``: lay out a KB (by default the one that
    HEALTHKB_KB points at) and return its folder."""

    def make(files: Mapping[str, str | bytes], root: Path | None = None) -> Path:
        return write_kb(root if root is not None else isolated_env.kb, files)

    return make


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    found = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink():
                found[str(path.relative_to(root))] = (path.read_bytes(), path.stat().st_mtime_ns)
    return found


@pytest.fixture
def snapshot() -> Callable[[Path], dict[str, tuple[bytes, int]]]:
    """``snapshot(root)``: bytes and mtime of every regular file under root
    (links not followed), to prove that something left the files alone."""
    return _snapshot
