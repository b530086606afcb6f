"""Is the index current? One cheap digest of everything in a KB whose change
can change its articles, computed by every reading command before it answers.

Folder mtimes move when an entry is added, removed or renamed; an in-place
save moves only the file's own mtime (and maybe its size), and a rename
moves an inode to another name, so the digest covers each folder's mtime and
each ``*.txt`` entry's name, size, mtime_ns and inode.  Equal digests mean a
scan (:func:`healthkb.corpus.scan_kb`) would find the same files with the
same stat.  The cost is the ``stat`` calls themselves: a bare ``os.walk``
with a ``stat`` per file costs as much.
"""

from __future__ import annotations

import os
from array import array


def tree_state(
    root: str | os.PathLike,
    stats: dict[str, tuple[int, int]] | None = None,
    folders: dict[str, bytes] | None = None,
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
    changed (b"" for a folder that could not be listed).
    """
    import hashlib  # lazy: OpenSSL costs an import only when used

    real_root = os.path.realpath(root)
    names: list[str] = []
    numbers = array("q")
    add_name, add_number = names.append, numbers.append
    seen: set[tuple[int, int]] = set()
    pending = [real_root]
    while pending:
        folder = pending.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            listing = os.scandir(folder)
        except OSError:
            add_name(folder)  # unreadable: the scan reports it, and so must stay unchanged
            if folders is not None:
                folders[folder] = b""
            continue
        add_name(folder)
        first_name, first_number = len(names), len(numbers)
        add_number(st.st_mtime_ns)
        with listing:
            for entry in listing:
                name = entry.name
                if name[0] == ".":
                    continue
                try:
                    if entry.is_dir():
                        if not entry.is_symlink() or _inside(os.path.realpath(entry.path), real_root):
                            pending.append(entry.path)
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
                    stats[entry.path] = (st.st_size, st.st_mtime_ns)
        if folders is not None:
            part = hashlib.blake2b("\0".join(names[first_name:]).encode("utf-8", "surrogateescape"), digest_size=16)
            part.update(numbers[first_number:].tobytes())
            folders[folder] = part.digest()
    digest = hashlib.blake2b("\0".join(names).encode("utf-8", "surrogateescape"), digest_size=16)
    digest.update(numbers.tobytes())
    return digest.hexdigest()


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)
