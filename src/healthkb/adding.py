"""Copying article files into a KB (`healthkb add`): validate every file
first, then copy them all, so a bad file in the list changes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from healthkb.corpus import DEFAULT_MAX_BYTES, bad_name_reason
from healthkb.files import UndecodableError, decode_bytes
from healthkb.errors import BadInputError, KBUnavailableError, storage_failure
from healthkb.kb import copy_into_kb
from healthkb.text import sanitize_line


@dataclass(frozen=True, slots=True)
class PlannedCopy:
    """One file `add` will copy: from where, to where, and whether it replaces one."""

    source: Path
    target: Path
    replaces: bool


def plan_copies(kb_root: Path, files: list[str], *, force: bool, into: str = "") -> list[PlannedCopy]:
    """Check every file and decide where it goes; raise BadInputError on the first problem."""
    folder = (kb_root / into).resolve() if into else kb_root
    if into and os.path.commonpath([folder, kb_root]) != str(kb_root):
        raise BadInputError(f"--into must be a folder inside the knowledge base: {into}")
    if into and any(part.startswith(".") for part in folder.relative_to(kb_root).parts):
        # Hidden folders (and .healthkb, the index) are not scanned: the article would vanish.
        raise BadInputError(f"--into cannot be a hidden folder: {into}")
    if folder.exists() and not folder.is_dir():
        raise BadInputError(f"--into names a file, not a folder: {into}")
    plans: list[PlannedCopy] = []
    seen: set[Path] = set()
    for name in files:
        source = Path(name)
        shown = sanitize_line(name)
        if not source.exists():
            raise BadInputError(f"no such file: {shown}")
        if source.is_dir():
            raise BadInputError(f"{shown} is a folder", hint="give the .txt files inside it, e.g. folder/*.txt")
        try:
            size = source.stat().st_size
            data = source.read_bytes() if size <= DEFAULT_MAX_BYTES else b""
        except OSError as exc:
            raise BadInputError(f"cannot read {shown}: {exc.strerror}") from exc
        if size == 0:
            raise BadInputError(f"{shown} is empty")
        if size > DEFAULT_MAX_BYTES:
            raise BadInputError(f"{shown} is larger than {DEFAULT_MAX_BYTES // 1_000_000} MB")
        try:
            decode_bytes(data)
        except UndecodableError as exc:
            raise BadInputError(f"{shown} is not a text article ({exc})") from exc
        base = source.name if source.suffix.lower() == ".txt" else f"{source.name}.txt"
        if base.startswith(".") or "\n" in base or "\r" in base:
            raise BadInputError(f"{shown}: the file name cannot be used for an article")
        reason = bad_name_reason(base)
        if reason:
            # The scan would skip it: refuse now rather than report it added.
            raise BadInputError(f"{shown}: the file name cannot be used for an article ({reason})")
        target = folder / base
        if target in seen:
            raise BadInputError(f"two files would both be added as {base}")
        seen.add(target)
        if target.is_dir():
            raise BadInputError(f"{target.relative_to(kb_root)} is a folder in the knowledge base; cannot add {shown} there")
        exists = target.exists()
        if exists and source.resolve() == target.resolve():
            raise BadInputError(f"{shown} is already in the knowledge base")
        if exists and not force:
            raise BadInputError(
                f"{target.relative_to(kb_root)} already exists in the knowledge base",
                hint="use --force to replace it",
            )
        plans.append(PlannedCopy(source, target, exists))
    return plans


def copy_all(plans: list[PlannedCopy]) -> None:
    for done, plan in enumerate(plans):
        try:
            copy_into_kb(plan.source, plan.target)
        except OSError as exc:
            # A read-only KB, a full disk: the files are checked, the KB is not writable.
            copied = f" ({done} of {len(plans)} copied before this one)" if done else ""
            # Name the article, not the temporary file it was being copied to.
            failure = storage_failure(OSError(exc.errno, exc.strerror), plan.target)
            reason = failure.message if failure else f"cannot write {plan.target}: {exc.strerror or exc}"
            raise KBUnavailableError(f"{reason}{copied}") from exc
