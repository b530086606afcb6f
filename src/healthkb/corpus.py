"""Scan a knowledge-base folder: which files are articles, which are skipped
and why, and the fingerprint that tells when one changed (how one file is
read and decoded is files.py).

SPEC §3: articles are ``*.txt`` files under the KB root, recursively. Hidden
files and folders, symlinks leading outside the KB, binary files, empty files
and files over a size limit are skipped, each with a reason.
"""

from __future__ import annotations

import errno
import operator
import os
import unicodedata
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from healthkb.article import Article, parse_article
from healthkb.files import COPY_TEMP_PREFIXES, COPY_TEMP_SUFFIX, STATE_DIR_NAME, Decoded, UndecodableError, read_file
from healthkb.text import strip_controls

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
# Hidden folders that belong to tools, not to the user's articles: skipped
# without a word, so a KB kept in git does not report ".git" on every run.
_TOOL_FOLDERS = frozenset({STATE_DIR_NAME, ".git", ".hg", ".svn", ".obsidian", ".vscode", ".idea", ".Trash", ".DS_Store"})

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What we remember of a file to know, cheaply, whether it changed."""

    size: int
    mtime_ns: int
    sha256: str = ""


@dataclass(frozen=True, slots=True)
class ArticleFile:
    """A file that is an article: its id, relative and absolute path, stat."""

    id: str
    relpath: str
    abspath: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file that is not indexed, and why (too big, binary, unreadable, ...)."""

    path: str
    reason: str


@dataclass(slots=True)
class Scan:
    """The result of walking a KB: articles, skipped files, folder mtimes."""

    files: list[ArticleFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # relative folder path ("" for the root) → mtime_ns: folder mtimes change
    # whenever an entry is added, removed or renamed, so they are a cheap
    # freshness check that avoids stat-ing every article.
    folders: dict[str, int] = field(default_factory=dict)
    # (absolute path, relative path) of temporary files that a copy into the
    # KB (``add``, the starter articles) writes and renames: found here so
    # that a writer can remove those a killed process left behind.
    temporaries: list[tuple[str, str]] = field(default_factory=list)
    # Relative paths of the real subfolders met (filled by scan_folders only,
    # which does not enter them).
    subfolders: list[str] = field(default_factory=list)
    # Whether a symlink to a folder was met: such a folder can be reached by
    # two paths, so only a walk of the whole KB knows which one lists it.
    linked: bool = False


def article_id(relpath: str) -> str:
    """``sleep/insomnia-relief.txt`` → ``sleep/insomnia-relief``."""
    stem, dot, ext = relpath.rpartition(".")
    return stem if dot and ext.lower() == "txt" else relpath


def _describe_size(limit: int) -> str:
    # The limit is set in binary megabytes (5 * 1024 * 1024): say "5 MB",
    # not "5.24288 MB".
    megabyte = 1024 * 1024
    return f"larger than {limit / megabyte:g} MB" if limit >= megabyte else f"larger than {limit} bytes"


def scan_kb(root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, stats: dict[str, tuple[int, int]] | None = None) -> Scan:
    """Walk ``root`` and classify every entry (no file contents are read).

    ``stats`` (path → (size, mtime_ns), filled by :func:`healthkb.freshness.tree_state` just
    before) spares a second stat of each file: the stat taken earlier is the
    safe one to record, since a change after it makes the next update look
    again.  A file it lacks is stat-ed here."""
    scan = Scan()
    real_root = os.path.realpath(root)
    walker = _Walker(real_root, scan, max_bytes, stats or {})
    walker.walk(real_root, "")
    scan.linked = bool(walker.linked_dirs)
    # Symlinked folders come last, so that a folder reachable both directly
    # and through a link is always listed under its real path, whatever the
    # names sort like.
    while walker.linked_dirs:
        path, rel = walker.linked_dirs.pop(0)
        walker.walk_linked(path, rel)
    scan.files = _without_shared_ids(scan)
    return scan


def scan_folders(root: Path, folders: list[str], *, max_bytes: int = DEFAULT_MAX_BYTES, stats: dict | None = None, skip: Collection[str] | None = None) -> Scan:
    """Classify the entries directly inside each of ``folders`` (relative
    paths, "" for the root) as :func:`scan_kb` would, without entering their
    subfolders: the scan of the folders an update found changed.  The real
    subfolders met are listed in ``scan.subfolders``; a symlinked one sets
    ``scan.linked`` (only a whole walk can place it).  ``stats`` spares
    stat calls as scan_kb's does; the entries named in ``skip`` are left out
    (files an update knows are unchanged)."""
    scan = Scan()
    real_root = os.path.realpath(root)
    walker = _Walker(real_root, scan, max_bytes, stats or {}, enter=False, skip=skip)
    for rel in folders:
        walker.walk(os.path.join(real_root, rel) if rel else real_root, rel)
    scan.linked = bool(walker.linked_dirs)
    scan.files = _without_shared_ids(scan)
    return scan


def _without_shared_ids(scan: Scan) -> list[ArticleFile]:
    """The scanned files sorted by id, one file per id.

    ``x.txt`` and ``x.TXT`` both make the id ``x``, and names that differ
    only in Unicode form (composed ``é`` or ``e`` + accent) make ids that
    look and resolve the same.  One article per id: the file with the plain
    ``.txt`` name in composed form keeps it; each other one is skipped with a
    reason naming the file that kept it (so `check` lists it)."""
    ids = [file.id for file in scan.files]
    if len(set(ids)) == len(ids) and all(map(str.isascii, ids)):
        # Nothing to choose between (the usual KB): sort and go.
        scan.files.sort(key=_by_id)
        return scan.files
    by_key: dict[str, list[ArticleFile]] = {}
    for file in scan.files:
        key = file.id if file.id.isascii() else unicodedata.normalize("NFC", file.id)
        by_key.setdefault(key, []).append(file)
    kept = []
    for group in by_key.values():
        if len(group) > 1:
            group.sort(key=lambda f: (not f.relpath.endswith(".txt"), not unicodedata.is_normalized("NFC", f.relpath), f.relpath))
            for other in group[1:]:
                scan.skipped.append(Skipped(_shown(other.relpath), f"same article id as {_shown(group[0].relpath)} (ids ignore the case of .txt and the Unicode form of names)"))
        kept.append(group[0])
    kept.sort(key=_by_id)
    return kept


_by_name = operator.attrgetter("name")
_by_id = operator.attrgetter("id")


def bad_name_reason(name: str) -> str | None:
    """Why a file or folder name cannot become (part of) an article id."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        # os.scandir hands back undecodable bytes as lone surrogates, which
        # would crash any later print.
        return "file name is not valid UTF-8"
    if "\n" in name or "\r" in name:
        return "line break in the file name"
    if strip_controls(name) != name:
        return "control character in the file name"
    return None


def _shown(rel: str) -> str:
    """``rel`` made safe to print: undecodable bytes become U+FFFD and each
    control character a "?", so the report still shows that one was there."""
    text = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join("?" if ch in "\n\t" or strip_controls(ch) != ch else ch for ch in text)


class _Walker:
    """One walk of a KB; remembers real folders seen to break symlink loops."""

    def __init__(self, real_root: str, scan: Scan, max_bytes: int, stats: dict, *, enter: bool = True, skip: Collection[str] | None = None) -> None:
        self.real_root = real_root
        self.enter = enter  # False: list the subfolders met instead of walking them
        self.left_out = skip or ()  # names of entries not to classify
        self.stats = stats
        self.scan = scan
        self.max_bytes = max_bytes
        self.seen_dirs = {real_root}
        self.linked_dirs: list[tuple[str, str]] = []

    def skip(self, rel: str, reason: str) -> None:
        self.scan.skipped.append(Skipped(_shown(rel), reason))

    def walk_linked(self, path: str, rel: str) -> None:
        real = os.path.realpath(path)
        if real in self.seen_dirs:
            # Either the link points back up at one of its own parents, or
            # the folder was already listed under its real path.
            parent = os.path.realpath(os.path.dirname(path))
            loop = os.path.commonpath([real, parent]) == real
            self.skip(rel, "symlink loop" if loop else "symlink to a folder already scanned")
            return
        self.seen_dirs.add(real)
        self.walk(path, rel)

    def walk(self, top: str, rel_top: str) -> None:
        """Depth first with an explicit stack: a KB nested thousands of folders
        deep must not hit Python's recursion limit."""
        pending = [(top, rel_top)]
        while pending:
            folder, rel_folder = pending.pop()
            try:
                self.scan.folders[rel_folder] = os.stat(folder).st_mtime_ns
                with os.scandir(folder) as listing:
                    entries = sorted((e for e in listing if e.name not in self.left_out) if self.left_out else listing, key=_by_name)
            except OSError as exc:
                self.skip(rel_folder or ".", f"unreadable folder ({exc.strerror})")
                continue
            subfolders: list[tuple[str, str]] = []
            for entry in entries:
                name = entry.name
                rel = f"{rel_folder}/{name}" if rel_folder else name
                # The common case first, without visit()'s questions: a plain
                # printable-ASCII *.txt that is a regular file, not a link
                # (the type comes with the listing, so this costs no syscall).
                if name[-4:].lower() == ".txt" and name[0] != "." and name.isascii() and name.isprintable():
                    try:
                        plain = entry.is_file(follow_symlinks=False)
                    except OSError:
                        plain = False
                    if plain:
                        _classify_file(entry, rel, self.scan, self.max_bytes, self.stats)
                        continue
                subfolder = self.visit(entry, rel)
                if subfolder:
                    subfolders.append(subfolder)
            if self.enter:
                pending.extend(reversed(subfolders))  # popped in name order
            else:
                self.scan.subfolders.extend(rel for _path, rel in subfolders)

    def visit(self, entry: os.DirEntry, rel: str) -> tuple[str, str] | None:
        """Classify one entry; return (path, rel) of a real folder to walk into."""
        is_txt = entry.name.lower().endswith(".txt")
        try:
            is_link = entry.is_symlink()
            is_dir = entry.is_dir()  # follows symlinks
            is_file = entry.is_file()
        except OSError as exc:
            if entry.name.startswith(".") and not is_txt:
                return None
            reason = "symlink loop" if exc.errno == errno.ELOOP else f"unreadable ({exc.strerror})"
            self.skip(rel, reason)
            return None
        if entry.name.startswith(COPY_TEMP_PREFIXES) and entry.name.endswith(COPY_TEMP_SUFFIX):
            self.scan.temporaries.append((entry.path, rel))
            return None
        if entry.name.startswith("."):
            # Hidden entries are private by convention.  Say so for folders
            # (which may hold articles) and .txt files, but not for our own
            # .healthkb folder.
            if (is_dir and entry.name not in _TOOL_FOLDERS) or is_txt:
                self.skip(rel, "hidden folder" if is_dir else "hidden file")
            return None
        if is_link:
            target = os.path.realpath(entry.path)
            if os.path.commonpath([target, self.real_root]) != self.real_root:
                if is_dir or is_txt:
                    self.skip(rel, "symlink to outside the knowledge base")
                return None
            if not (is_dir or is_file):
                if is_txt:
                    self.skip(rel, "broken symlink")
                return None
        if is_dir or is_txt:
            reason = bad_name_reason(entry.name)
            if reason:
                self.skip(rel, reason)
                return None
        if is_dir:
            if is_link:
                self.linked_dirs.append((entry.path, rel))
                return None
            real = os.path.realpath(entry.path)
            if real in self.seen_dirs:
                return None
            self.seen_dirs.add(real)
            return entry.path, rel
        if is_file and is_txt:
            _classify_file(entry, rel, self.scan, self.max_bytes, self.stats)
        return None


def _classify_file(entry: os.DirEntry, rel: str, scan: Scan, max_bytes: int, stats: dict[str, tuple[int, int]]) -> None:
    try:
        known = stats.get(entry.path) if stats else None
        if known:
            size, mtime_ns = known
        else:
            st = entry.stat()
            size, mtime_ns = st.st_size, st.st_mtime_ns
    except OSError as exc:
        scan.skipped.append(Skipped(rel, f"unreadable ({exc.strerror})"))
        return
    if size == 0:
        scan.skipped.append(Skipped(rel, "empty file"))
    elif size > max_bytes:
        scan.skipped.append(Skipped(rel, _describe_size(max_bytes)))
    else:
        scan.files.append(ArticleFile(article_id(rel), rel, entry.path, size, mtime_ns))


def load_article(file: ArticleFile) -> tuple[Article, Decoded]:
    """Read, decode and parse one article file."""
    decoded = read_file(file.abspath)
    article = parse_article(
        decoded.text, file.id, path=file.relpath, encoding=decoded.encoding, warnings=decoded.warnings
    )
    return article, decoded


def iter_articles(
    scan: Scan, *, progress: Progress | None = None
) -> Iterator[tuple[ArticleFile, Article | None, Decoded | Skipped]]:
    """Load every scanned file; unreadable or binary ones yield a Skipped."""
    total = len(scan.files)
    for done, file in enumerate(scan.files, 1):
        try:
            article, decoded = load_article(file)
        except UndecodableError as exc:
            yield file, None, Skipped(file.relpath, str(exc))
        except OSError as exc:
            yield file, None, Skipped(file.relpath, f"unreadable ({exc.strerror})")
        else:
            yield file, article, decoded
        if progress:
            progress(done, total)
