"""Which knowledge base a command works on (SPEC §3), and the user's own KB.

Order: ``--kb DIR``, then ``HEALTHKB_KB``, then the nearest folder upward
holding ``.healthkb/`` (made by ``healthkb init``), else the user KB in the
platform's user data folder, created on first use from the starter articles
shipped inside the package.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import NamedTuple
from pathlib import Path

from healthkb.files import COPY_TEMP_SUFFIX, STATE_DIR_NAME
from healthkb.errors import KBUnavailableError

ENV_KB = "HEALTHKB_KB"
APP_NAME = "healthkb"


class KB(NamedTuple):
    """A resolved knowledge base and how it was chosen."""

    root: Path
    origin: str  # "option" | "env" | "discovered" | "user"
    created_with: int | None = None  # starter articles copied, when just created

    @property
    def marker_dir(self) -> Path:
        return self.root / STATE_DIR_NAME


def user_data_dir() -> Path:
    from platformdirs import user_data_path  # lazy: costs ~15 ms to import

    return user_data_path(APP_NAME, appauthor=False)


def user_cache_dir() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path(APP_NAME, appauthor=False)


def _checked(path: Path, origin: str, how: str) -> KB:
    if not path.exists():
        raise KBUnavailableError(f"knowledge base {how} does not exist: {path}")
    if not path.is_dir():
        raise KBUnavailableError(f"knowledge base {how} is not a folder: {path}")
    if not os.access(path, os.R_OK | os.X_OK):
        raise KBUnavailableError(f"knowledge base {how} cannot be read: {path}")
    return KB(path.resolve(), origin)


def find_marked_kb(start: Path) -> Path | None:
    """The nearest folder from ``start`` upward that holds ``.healthkb/``."""
    for folder in (start, *start.parents):
        if (folder / STATE_DIR_NAME).is_dir():
            return folder
    return None


def resolve_kb(option: str | None = None, *, cwd: Path | None = None) -> KB:
    """Pick the KB for this command (see module docstring)."""
    if option:
        return _checked(Path(option).expanduser(), "option", "given with --kb")
    env = os.environ.get(ENV_KB)
    if env:
        return _checked(Path(env).expanduser(), "env", f"in {ENV_KB}")
    try:
        here = (cwd or Path.cwd()).resolve()
    except OSError:
        here = None  # the working folder was deleted under us
    marked = find_marked_kb(here) if here else None
    if marked is not None:
        return KB(marked, "discovered")
    return ensure_user_kb()


def existing_kb_root(option: str | None = None) -> Path | None:
    """The folder :func:`resolve_kb` would pick, without checking or creating
    anything: None when it would create the user KB.  A guess made before
    the command line is parsed (cli.main starts the freshness walk early);
    the command verifies it against the KB it resolves."""
    if option:
        return Path(option).expanduser()
    env = os.environ.get(ENV_KB)
    if env:
        return Path(env).expanduser()
    try:
        marked = find_marked_kb(Path.cwd().resolve())
    except OSError:
        marked = None
    if marked is not None:
        return marked
    user = user_data_dir()
    return user if (user / STATE_DIR_NAME).is_dir() else None


def ensure_user_kb() -> KB:
    """The user's KB, created from the starter articles on first use."""
    root = user_data_dir()
    marker = root / STATE_DIR_NAME
    if marker.is_dir():
        return KB(root, "user")
    try:
        # Only a new (missing or empty) folder gets the starter articles.
        # .healthkb is a disposable cache: when a user deletes it, articles
        # they removed from their KB must not come back.
        fresh = not root.exists() or not any(root.iterdir())
        count = install_starter_articles(root) if fresh else None
        marker.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KBUnavailableError(f"cannot create your knowledge base at {root}: {exc.strerror}") from exc
    return KB(root, "user", created_with=count)


def starter_articles() -> list[tuple[str, bytes]]:
    """(relative path, bytes) of every starter article shipped in the package."""
    found: list[tuple[str, bytes]] = []

    def walk(node, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            rel = f"{prefix}{child.name}"
            if child.is_dir() and not child.name.startswith(("_", ".")):
                walk(child, rel + "/")
            elif child.name.endswith(".txt"):
                found.append((rel, child.read_bytes()))

    from importlib import resources

    walk(resources.files("healthkb.starter"), "")
    return found


def install_starter_articles(root: Path) -> int:
    """Copy the starter articles into ``root`` without overwriting anything."""
    root.mkdir(parents=True, exist_ok=True)
    copied = 0
    for rel, data in starter_articles():
        target = root / rel
        if target.exists():
            continue
        # Written under a temporary name and renamed, so that a run killed
        # mid-copy never leaves a truncated article that we would then
        # "not overwrite" forever.
        _write_atomically(target, lambda tmp: Path(tmp).write_bytes(data), prefix=".starter-")
        copied += 1
    return copied


class InitResult(NamedTuple):
    """What `healthkb init` made (or found already made)."""

    root: Path
    already: bool


def init_kb(folder: Path) -> InitResult:
    """Make ``folder`` a KB by creating its ``.healthkb/`` marker folder."""
    folder = folder.expanduser()
    if folder.exists() and not folder.is_dir():
        raise KBUnavailableError(f"not a folder: {folder}")
    marker = folder / STATE_DIR_NAME
    already = marker.is_dir()
    try:
        marker.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KBUnavailableError(f"cannot create {marker}: {exc.strerror}") from exc
    return InitResult(folder.resolve(), already)


def state_dir(kb: KB) -> tuple[Path, bool]:
    """Where the index of ``kb`` lives, and whether that is a fallback.

    Normally ``<kb>/.healthkb``.  When the KB folder is read-only the index
    goes to the user cache folder instead (the second value is then True).
    """
    preferred = kb.marker_dir
    check_state_folder(preferred)
    if _writable_dir(preferred) or (not preferred.exists() and _writable_dir(kb.root)):
        return preferred, False
    import hashlib

    key = hashlib.sha256(os.fsencode(kb.root)).hexdigest()[:16]  # fsencode: any path bytes
    return user_cache_dir() / "indexes" / f"{kb.root.name or 'root'}-{key}", True


def check_state_folder(path: Path) -> None:
    """Refuse a ``.healthkb`` that healthkb may not have made: a symbolic link
    (a rebuild would delete files wherever it points) or a folder owned by
    another user (a KB shared with its index could feed us crafted files).
    A plain file of that name is only in the way: state_dir falls back."""
    try:
        st = os.lstat(path)
    except OSError:
        return  # missing (made later) or unreadable (reported where it is used)
    if stat.S_ISLNK(st.st_mode):
        raise KBUnavailableError(
            f"{path} is a symbolic link; healthkb keeps its index only in a real folder",
            hint=f"remove the link ({path}); the next command makes a new index",
        )
    if not stat.S_ISDIR(st.st_mode):
        return  # a file in the way: the index goes to the user cache folder (state_dir)
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise KBUnavailableError(
            f"{path} belongs to another user (uid {st.st_uid}); healthkb uses only an index folder you own",
            hint="remove it or make it yours (chown); the index is rebuilt from the articles",
        )


def _writable_dir(path: Path) -> bool:
    # access() checks permissions and read-only mounts (EROFS) without the
    # cost of creating a probe file on every command.
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def copy_into_kb(source: Path, target: Path) -> None:
    """Copy one file into the KB atomically (write to a temp name, rename)."""
    import shutil

    _write_atomically(target, lambda tmp: shutil.copyfile(source, tmp), prefix=".add-")


def _write_atomically(target: Path, write: Callable[[str], object], *, prefix: str) -> None:
    """Let ``write`` fill a temporary file beside ``target``, then rename it
    into place; on any failure the temporary file is removed."""
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    # The pid in the name tells a later writer whether the copy is still
    # going on or was killed (see remove_stale_copies).
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f"{prefix}{os.getpid()}-", suffix=COPY_TEMP_SUFFIX)
    os.close(fd)
    try:
        write(tmp)
        # mkstemp makes the file private (0600); an article gets the mode any
        # new file would get, so a shared KB stays readable by its group.
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_file_mode() -> int:
    """The mode a new file gets from ``open()`` (0666 less the umask): what a
    file made with mkstemp (0600) should be given before it is renamed into place."""
    mask = os.umask(0o022)  # the only way to read the umask is to set it
    os.umask(mask)
    return 0o666 & ~mask


# A temporary file without a live writer's pid (made by an older release) is
# stale once it is this old: no copy of one article takes an hour.
_STALE_COPY_SECONDS = 3600


def remove_stale_copies(temporaries: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Delete the temporary files of copies whose process is gone (a killed
    ``add``); return (relative path, reason) of those that could not be deleted.

    A temporary file of a copy still running is left alone."""
    import time

    problems = []
    for path, rel in temporaries:
        if _copy_in_progress(path, time.time()):
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            problems.append((rel, f"temporary file of a stopped copy; cannot remove it ({exc.strerror})"))
    return problems


def _copy_in_progress(path: str, now: float) -> bool:
    pid_text = os.path.basename(path).split("-", 2)[1]
    if pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            return False  # ours, and we are not copying while we index
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True  # alive, owned by another user
        return True
    try:
        return now - os.stat(path).st_mtime < _STALE_COPY_SECONDS
    except OSError:
        return False
