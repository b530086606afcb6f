"""Is the index current? One cheap digest of everything in a KB whose change
can change its articles, computed by every reading command before it answers.

Folder mtimes move when an entry is added, removed or renamed; an in-place
save moves only the file's own mtime (and maybe its size), and a rename
moves an inode to another name, so the digest covers each folder's mtime and
each ``*.txt`` entry's name, size, mtime_ns and inode.  Equal digests mean a
scan (:func:`healthkb.corpus.scan_kb`) would find the same files with the
same stat.  The cost is the ``stat`` calls themselves: a bare ``os.walk``
with a ``stat`` per file costs as much.

That cost (about 35 ms at 10,000 articles, 0.4 s at 100,000) is spent in
system calls (each folder is listed through a descriptor, so each file's
``stat`` looks up one name, not its whole path), so a reading command, or
one that updates the index, takes the digest in a forked child process
(:func:`start_background_walk`) while it goes on importing its modules on
the other core, and collects it when it needs it
(:func:`background_tree_state`).  Threads cannot do this: the walk holds the
GIL between its ``stat`` calls.  Where there is no ``fork``, or the child
fails or walked another folder, the digest is taken in the process itself.
The walk also hands over what it saw of each folder (``listings``): an
update then takes the stats of a changed folder's files from it instead of
taking them again (:func:`listed_stats`).

The walk itself is split the same way: after the root, a forked child walks
the last half of its subfolders while this process walks the others, and
the two halves are joined in the order one walk would have visited them, so
the digest is the same (at 100,000 articles: ~0.25 s instead of ~0.4 s).  A
folder reached from both halves (a link inside the KB) or a failed child
leaves the decision to one serial walk.
"""

from __future__ import annotations

import marshal
import os
import sys
from array import array
from collections.abc import Callable

# Set (to anything) to skip the freshness check, like --no-refresh.
ENV_NO_REFRESH = "HEALTHKB_NO_REFRESH"

# (pid, read end of its pipe) of the background walk not yet collected.
_background: tuple[int, int] | None = None


def tree_state(
    root: str | os.PathLike,
    stats: dict[str, tuple[int, int]] | None = None,
    folders: dict[str, bytes] | None = None,
    listings: dict[str, tuple[bytes, bytes]] | None = None,
) -> str:
    """A digest of everything whose change can change what the KB's articles are.

    It covers, for every folder the scan would enter, its mtime (which moves
    when an entry is added, removed or renamed) and, for every ``*.txt``
    entry, its name, size, mtime_ns and inode (an in-place save moves the
    mtime; a rename moves the inode to another name).  Two equal digests mean
    the scan would find the same files with the same stat, so the index is
    current.  Reading commands compute it before every answer, hence the plain
    loop: no objects per file beyond the stat result, no sorting, no
    recursion.  Hidden entries are left out, as the scan leaves them out;
    adding or removing one still moves its folder's mtime.  A writer passes
    ``stats`` to keep each file's (size, mtime_ns) by path for
    :func:`scan_kb`, which then need not stat the files again.  ``folders``
    receives, by folder path, a digest of that folder's part (its mtime and
    its ``*.txt`` entries), so that an update can find the folders that
    changed (b"" for a folder that could not be listed).  ``listings``
    receives each listed folder's part itself, from which
    :func:`listed_stats` gives the stats this walk took there: an update
    rescanning a changed folder need not stat its files again.
    """
    import hashlib  # lazy: OpenSSL costs an import only when used

    real_root = os.path.realpath(root)
    walk = _Walk(real_root, stats, folders)
    walk.run([real_root], stop_after_first=True)  # the root itself: its entries, its subfolders
    subtrees = walk.pending
    walk.pending = []
    share = len(subtrees) // 2
    child = _fork_walk(real_root, walk.seen, subtrees[len(subtrees) - share:]) if stats is None and share else None
    if child is None:
        walk.run(subtrees)
    else:
        # The serial walk pops the last subfolder first, so the subtrees the
        # child took (the last half) come first in the digest, then ours.
        before = set(walk.seen)  # the root: both halves start from it
        ours = _Walk(real_root, None, {} if folders is not None else None, set(before))
        ours.run(subtrees[: len(subtrees) - share])
        theirs = _collect_walk(child)
        if theirs is None or not (theirs.seen - before).isdisjoint(ours.seen - before):
            # The child failed, or a folder was reached from both halves (a
            # link inside the KB): the serial walk decides which visit counts.
            walk.run(subtrees)
        else:
            walk.extend(theirs)
            walk.extend(ours)
    if listings is not None:
        listings.update((folder, (names, numbers)) for folder, names, numbers in walk.parts if numbers)
    # Every folder's path, then its entries' names (when it has any): the
    # names in the order the walk met them, as one string.
    names = [item for folder, entries, _numbers in walk.parts for item in (folder.encode("utf-8", "surrogateescape"), entries) if item]
    digest = hashlib.blake2b(b"\0".join(names), digest_size=16)
    digest.update(b"".join([numbers for _folder, _names, numbers in walk.parts]))
    return digest.hexdigest()


def listed_stats(listing: tuple[bytes, bytes]) -> dict[str, tuple[int, int]] | None:
    """name → (size, mtime_ns) of a folder's ``*.txt`` files as the walk
    that gave ``listing`` (:func:`tree_state`'s ``listings``) stat-ed them;
    None when an entry there could not be stat-ed (the caller then stats
    for itself)."""
    blob, packed = listing
    names = blob.decode("utf-8", "surrogateescape").split("\0") if blob else []
    numbers = array("q")
    numbers.frombytes(packed)
    # The folder's mtime, then (size, mtime_ns, inode) for each entry.
    if len(numbers) != 1 + 3 * len(names):
        return None
    return {name: (numbers[3 * n + 1], numbers[3 * n + 2]) for n, name in enumerate(names)}


# os.scandir on a folder's descriptor: each entry's stat is then an fstatat
# relative to it, not a lookup of the whole path again (~13% of the walk).
_BY_DESCRIPTOR = os.scandir in os.supports_fd and hasattr(os, "O_DIRECTORY")


def _open_folder(folder: str) -> int | None:
    """A descriptor of ``folder`` to list it by, or None: list it by its path
    (no descriptors here, or it cannot be opened: the path's stat and
    listing then say so, as without descriptors)."""
    if not _BY_DESCRIPTOR:
        return None
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None


class _Walk:
    """The loop behind :func:`tree_state`: a stack of folders, and each
    folder's part, in the order the walk visits them: (folder, its ``*.txt``
    entries' names joined by NULs, its numbers packed: mtime, then size,
    mtime_ns and inode per entry; b"" when it was not listed)."""

    def __init__(self, real_root: str, stats, folders, seen: set | None = None) -> None:
        self.real_root, self.stats, self.folders = real_root, stats, folders
        self.parts: list[tuple[str, bytes, bytes]] = []
        self.seen: set[tuple[int, int]] = seen if seen is not None else set()
        self.pending: list[str] = []

    def run(self, pending: list[str], stop_after_first: bool = False) -> None:
        seen, stats = self.seen, self.stats
        real_root = self.real_root
        self.pending = pending
        while pending:
            folder = pending.pop()
            fd = _open_folder(folder)
            try:
                st = os.stat(folder) if fd is None else os.fstat(fd)
                if (st.st_dev, st.st_ino) in seen:
                    listing = None
                else:
                    seen.add((st.st_dev, st.st_ino))
                    listing = os.scandir(folder if fd is None else fd)
            except OSError:
                listing = None
                self._add(folder, [], None)  # unreadable: the scan reports it, and so must stay unchanged
            if listing is None:
                if fd is not None:
                    os.close(fd)
                continue
            names: list[str] = []
            numbers = array("q", (st.st_mtime_ns,))
            add_name, add_number = names.append, numbers.append
            prefix = os.path.join(folder, "")
            try:
                with listing:
                    for entry in listing:
                        name = entry.name
                        if name[0] == ".":
                            continue
                        try:
                            if entry.is_dir():
                                if not entry.is_symlink() or _inside(os.path.realpath(prefix + name), real_root):
                                    pending.append(prefix + name)
                                continue
                            if name[-4:].lower() != ".txt":
                                continue
                            st = entry.stat()
                        except OSError:
                            add_name(name)
                            continue
                        add_name(name)
                        add_number(st.st_size)
                        add_number(st.st_mtime_ns)
                        add_number(st.st_ino)
                        if stats is not None:
                            stats[prefix + name] = (st.st_size, st.st_mtime_ns)
            finally:
                if fd is not None:
                    os.close(fd)  # the listing's entries stat relative to it: closed only now
            self._add(folder, names, numbers)
            if stop_after_first:
                return

    def _add(self, folder: str, names: list[str], numbers: array | None) -> None:
        import hashlib

        blob = "\0".join(names).encode("utf-8", "surrogateescape")
        packed = numbers.tobytes() if numbers is not None else b""
        self.parts.append((folder, blob, packed))
        if self.folders is not None:
            if numbers is None:
                self.folders[folder] = b""
            else:
                part = hashlib.blake2b(blob, digest_size=16)
                part.update(packed)
                self.folders[folder] = part.digest()

    def extend(self, other: "_Walk") -> None:
        self.parts.extend(other.parts)
        self.seen |= other.seen
        if self.folders is not None and other.folders is not None:
            self.folders.update(other.folders)


def _fork_walk(real_root: str, seen: set, subtrees: list[str]) -> tuple[int, int] | None:
    """Walk ``subtrees`` in a forked child, the stat calls of the other half
    on the other core (they are system calls: a thread would wait for the
    GIL between them).  (pid, read end), or None: the caller walks them."""

    def walk_them() -> tuple:
        walk = _Walk(real_root, None, {}, set(seen))
        walk.run(list(subtrees))
        return walk.parts, walk.folders, list(walk.seen)

    return _fork_child(walk_them)


def _collect_walk(child: tuple[int, int]) -> "_Walk | None":
    """The child's walk, or None when it failed."""
    try:
        parts, folders, seen = _read_child(child)
    except (TypeError, ValueError):
        return None  # it failed: nothing, or not what a walk sends
    walk = _Walk("", None, folders, set(map(tuple, seen)))
    walk.parts = parts
    return walk


def _fork_child(work: Callable[[], object]) -> tuple[int, int] | None:
    """Run ``work`` in a forked child that sends its result back (marshal,
    through a pipe) and leaves with ``os._exit``.  (pid, read end), or None
    when no child can be started: no ``fork`` here, other threads running (a
    child forked beside them may inherit a lock one of them held), no pipe
    or process left."""
    threading = sys.modules.get("threading")
    if not hasattr(os, "fork") or (threading is not None and threading.active_count() > 1):
        return None
    try:
        read_end, write_end = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read_end)
            # A view, so that each write's rest is not copied again (a
            # walk's listings are megabytes, a pipe takes 64 KB at a time).
            message = memoryview(marshal.dumps(work()))
            while message:
                message = message[os.write(write_end, message):]
            code = 0
        except BaseException:  # noqa: BLE001 - whatever happens, the child must not return into the caller
            pass
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _read_child(child: tuple[int, int]) -> object:
    """What a :func:`_fork_child` child sent, once it has finished (it is
    reaped); None when it sent nothing readable (it failed)."""
    pid, read_end = child
    chunks = []
    try:
        while chunk := os.read(read_end, 1 << 20):
            chunks.append(chunk)
    except OSError:
        chunks = []
    finally:
        os.close(read_end)
        _reap(pid)
    try:
        return marshal.loads(b"".join(chunks))
    except (EOFError, ValueError, TypeError):
        return None


def start_background_walk(find_root: Callable[[], str | os.PathLike | None], *, listings: bool = False) -> bool:
    """Fork a child that takes :func:`tree_state` of ``find_root()`` (None:
    nothing to walk) while this process goes on.  False when it could not
    be started (no ``fork`` here, no pipe or process left): callers then
    walk in-process.  With ``listings`` the child sends them too (for a
    command that updates the index: megabytes at 100,000 articles, ~20 ms
    to send, which a command that finds the index current would waste).

    Call it before the process opens files or starts threads: the child only
    walks, writes one line to the pipe and leaves with ``os._exit``."""
    global _background
    discard_background_walk()
    import hashlib  # noqa: F401 - the digest's, loaded once here rather than again in the child

    _background = _fork_child(lambda: _walk_found_root(find_root, listings))
    return _background is not None


def discard_background_walk() -> None:
    """Stop and reap a background walk nobody collected (the command failed
    early, or never read the index)."""
    global _background
    if _background is None:
        return
    import signal

    pid, read_end = _background
    _background = None
    os.close(read_end)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass  # it has already left
    _reap(pid)


def _walk_found_root(find_root, with_listings: bool) -> tuple | None:  # pragma: no cover - runs in the child
    root = find_root()
    if root is None:
        return None
    real_root = os.path.realpath(root)
    folders: dict[str, bytes] = {}
    listings: dict[str, tuple[bytes, bytes]] = {}
    digest = tree_state(real_root, folders=folders, listings=listings if with_listings else None)
    return real_root, digest, folders, listings


def background_walk_running() -> bool:
    """Whether a background walk was started and not yet read or discarded."""
    return _background is not None


def background_tree_state(
    root: str | os.PathLike,
    folders: dict[str, bytes] | None = None,
    listings: dict[str, tuple[bytes, bytes]] | None = None,
) -> str | None:
    """:func:`tree_state` of ``root`` as the background walk took it at the
    start of the command (``folders`` and ``listings`` receive what
    tree_state's do), or None (none started, it failed, or it walked
    another folder).  Waits for the child to finish; a digest is given
    once, later calls return None."""
    global _background
    if _background is None:
        return None
    child, _background = _background, None
    try:
        walked, digest, walked_folders, walked_listings = _read_child(child)
    except (TypeError, ValueError):
        return None  # the child failed, or had no KB to walk
    if not isinstance(digest, str) or len(digest) != 32 or walked != os.path.realpath(root):
        return None
    if folders is not None:
        folders.update(walked_folders)
    if listings is not None:
        listings.update(walked_listings)
    return digest


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # already reaped (SIGCHLD ignored by whoever started us)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
