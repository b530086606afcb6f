"""A saved copy of the last link resolver, so that editing one article's text
does not rebuild title inference for the whole KB (a third of a second at
10,000 articles).

The copy is tied to the catalog by a stamp that every update renews; a copy
whose stamp does not match the catalog is ignored.  Deleting it costs only
time: it is rebuilt by the next update that needs it.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import uuid

from healthkb.index.catalog import Catalog
from healthkb.index.store import IndexPaths
from healthkb.links import LinkResolver

CACHE_NAME = "resolver.pickle"
STAMP_KEY = "links_stamp"


def new_stamp(catalog: Catalog) -> str:
    """Mark the catalog's links as changed (inside the caller's transaction)."""
    stamp = uuid.uuid4().hex
    catalog.set_meta(STAMP_KEY, stamp)
    return stamp


def save_resolver(paths: IndexPaths, resolver: LinkResolver, stamp: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=paths.state, prefix=".resolver-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump((stamp, resolver), handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, paths.state / CACHE_NAME)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def load_resolver(paths: IndexPaths, catalog: Catalog) -> LinkResolver | None:
    """The saved resolver if it matches the catalog's current links, else None."""
    try:
        with open(paths.state / CACHE_NAME, "rb") as handle:
            stamp, resolver = pickle.load(handle)
    except Exception:  # noqa: BLE001 - a damaged pickle raises almost anything (OverflowError, MemoryError, ...)
        return None  # a cache: rebuilt by this update
    if stamp != catalog.get_meta(STAMP_KEY) or not isinstance(resolver, LinkResolver):
        return None
    return resolver
