"""What a search process loads from Whoosh at start-up, and what it defers.

A plain search is a short-lived process, so every module it imports counts
(``python -X importtime -m healthkb search WORD``).  What healthkb already
defers elsewhere: the query parser (``plainquery`` builds plain-word queries
without it), the index writer, tabulate, and every CLI module but the one
that runs.  What Whoosh imports eagerly and a search never uses is deferred
here, before the first ``whoosh.query`` import:

* ``whoosh.lang.morph_en`` (~4.5 ms: it builds a large table of English word
  endings), imported by ``whoosh.query.terms`` only for the ``Variations``
  query, which healthkb does not build.  A stand-in module takes its place;
  the first use of any of its names loads the real one.

And one module of Python's own, deferred by the process entry point
(``healthkb.cli.entry``) before anything imports ``dataclasses``:

* ``inspect`` (~5 ms with the ast, dis and tokenize modules it loads), which
  ``dataclasses`` imports for one thing only: writing a docstring for a
  dataclass that has none.  healthkb's dataclasses all have theirs; one
  without still gets its docstring, the first use loading the real module.

Not deferrable from outside Whoosh, measured: ``whoosh.highlight`` (every
``Results`` makes a Highlighter), ``whoosh.classify`` (default arguments of
``Searcher`` methods), the analysis modules (the index's pickled schema
names them).
"""

from __future__ import annotations

import importlib
import sys
import types

_DEFERRED = "whoosh.lang.morph_en"


class _StandIn(types.ModuleType):
    """Takes a module's place in ``sys.modules`` until one of its names is used."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            # The import system asks for __path__, __spec__ and the like:
            # answering must not load the real module.
            raise AttributeError(name)
        return getattr(_load(self.__name__), name)


def _load(name: str) -> types.ModuleType:
    if isinstance(sys.modules.get(name), _StandIn):
        del sys.modules[name]
    return importlib.import_module(name)


def _variations(word: str):
    # `from whoosh.lang.morph_en import variations` binds this function at
    # import time; calling it loads the real module once.
    return _load(_DEFERRED).variations(word)


def defer_inspect_for_dataclasses() -> None:
    """Import ``dataclasses`` with a stand-in for ``inspect`` (a no-op when
    either is loaded already).  Only ``dataclasses`` holds the stand-in:
    every later ``import inspect`` gets the real module."""
    if "dataclasses" in sys.modules or "inspect" in sys.modules:
        return
    sys.modules["inspect"] = _StandIn("inspect")
    try:
        import dataclasses  # noqa: F401 - binds the stand-in as its `inspect`
    finally:
        if isinstance(sys.modules.get("inspect"), _StandIn):
            del sys.modules["inspect"]


def defer_unused_whoosh_modules() -> None:
    """Put the stand-ins in place (a no-op once Whoosh's query modules are loaded)."""
    if _DEFERRED in sys.modules or "whoosh.query.terms" in sys.modules:
        return
    stand_in = _StandIn(_DEFERRED)
    stand_in.variations = _variations
    sys.modules[_DEFERRED] = stand_in
