"""Whoosh reads its own files back with pickle (the table of contents holds
the pickled schema; posting blocks and stored fields are pickled tuples and
dicts).  A crafted file in a shared ``.healthkb/`` could then run code on the
reader's machine (issue 13).  This module swaps Whoosh's unpicklers for one
that builds only plain data and the few classes a healthkb index holds, and
refuses everything else with ``pickle.UnpicklingError``, which the index code
already treats as damage (rebuild).

healthkb's own state is never pickled: the catalog is SQLite.
"""

from __future__ import annotations

import io
import pickle
import types

# Classes an index written by healthkb holds (found by recording every class
# Whoosh's files asked for while building, updating and searching).
_ALLOWED_MODULES = (
    "whoosh.fields",
    "whoosh.formats",
    "whoosh.analysis.",
    "whoosh.codec.whoosh3",
    "whoosh.columns",
    "whoosh.lang.",
    "whoosh.support.",
    "healthkb.index.schema",
    "healthkb.index.codec",  # CompactCodec, in each segment of the table of contents
)
_SAFE_BUILTINS = frozenset({"set", "frozenset", "bytearray", "complex", "object", "int", "float", "str", "bytes", "dict", "list", "tuple", "bool", "slice", "range"})


_ALLOWED_NAMES = frozenset({
    ("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor"),  # protocol 2 objects
    ("_codecs", "encode"),  # protocol 2 bytes
    ("collections", "defaultdict"), ("collections", "OrderedDict"),
    ("healthkb.index.codec", "unpack"),  # packed posting values and weights (bytes in, tuple out)
    # A compiled pattern pickles as re._compile(pattern, flags): it compiles,
    # it runs nothing.  Stock Whoosh analyzers hold one (RegexTokenizer) and
    # a stem function (StemFilter), so a process that has installed this
    # unpickler can still open a plain Whoosh index (eval_realworld.py's
    # baseline, searched beside healthkb).
    ("re", "_compile"),
    ("whoosh.lang.porter", "stem"),  # StemmingAnalyzer's stem function: pure
})  # fmt: skip


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module in ("builtins", "__builtin__") and name in _SAFE_BUILTINS:
            return super().find_class(module, name)
        if (module, name) in _ALLOWED_NAMES:
            return super().find_class(module, name)
        allowed = any(module == m or (m.endswith(".") and module.startswith(m)) for m in _ALLOWED_MODULES)
        if allowed and "." not in name:
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"refused to load {module}.{name} from an index file")


def safe_loads(data: bytes, **_options) -> object:
    return _RestrictedUnpickler(io.BytesIO(data)).load()


def safe_load(file, **_options) -> object:
    return _RestrictedUnpickler(file).load()


_installed = False


def install() -> None:
    """Make every Whoosh module that unpickles use the restricted unpickler."""
    global _installed
    if _installed:
        return
    import whoosh.codec.whoosh3 as whoosh3
    import whoosh.filedb.structfile as structfile
    import whoosh.index as whoosh_index

    whoosh3.loads = safe_loads
    structfile.load = safe_load
    shim = types.SimpleNamespace(**{name: getattr(pickle, name) for name in ("dumps", "dump", "PicklingError", "UnpicklingError", "HIGHEST_PROTOCOL")})
    shim.loads = safe_loads
    shim.load = safe_load
    whoosh_index.pickle = shim
    _installed = True
