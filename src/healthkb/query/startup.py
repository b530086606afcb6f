"""What a search process loads at start-up, and what it defers.

A plain search is a short-lived process, so every module it imports counts
(``python -X importtime -m healthkb search WORD``).  What healthkb already
defers elsewhere: the query parser (``plainquery`` builds plain-word queries
without it), the index writer, tabulate, click (a plain search does not
parse options), and every CLI module but the one that runs.

What other modules import eagerly and a search never uses is deferred here:
a stand-in module takes the real one's place for the modules that import it,
and the first use of any of its names loads the real one.  Before the first
``whoosh.query`` import (:func:`defer_unused_whoosh_modules`):

* ``whoosh.lang.morph_en`` (~4.5 ms: it builds a large table of English word
  endings), imported by ``whoosh.query.terms`` only for the ``Variations``
  query, which healthkb does not build;
* ``random`` and ``calendar`` (with ``locale``), which ``whoosh.util``,
  ``whoosh.classify`` and ``whoosh.util.times`` use only in functions a
  search does not call (random file names, k-means, date arithmetic);
* ``html`` (with its table of entities), whose ``escape`` only Whoosh's HTML
  highlighter calls, and ``shutil`` (with the bz2 and lzma modules it
  loads), whose ``copyfileobj`` only compound-file writing calls: the
  importers bind these functions by name, so the stand-ins carry stand-in
  functions that load the real module when first called.

And by the process entry point (``healthkb.cli.entry``), before anything
else loads (:func:`defer_unused_stdlib_modules`):

* ``inspect`` (~5 ms with the ast, dis and tokenize modules it loads), which
  ``dataclasses`` imports for one thing only: writing a docstring for a
  dataclass that has none (healthkb's all have theirs: test_architecture);
* ``ipaddress``, which ``urllib.parse`` (imported by ``pathlib``) needs only
  to check a bracketed host name in a URL.

Only the importing modules hold these stand-ins: any later ``import inspect``
(or ``random``, ...) gets the real module.

Not deferrable from outside Whoosh, measured: ``whoosh.highlight`` (every
``Results`` makes a Highlighter), ``whoosh.classify`` (default arguments of
``Searcher`` methods), the analysis modules (the index's pickled schema
names them).
"""

from __future__ import annotations

import importlib
import sys
import types

_MORPH = "whoosh.lang.morph_en"


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
    return _load(_MORPH).variations(word)


def _later(module: str, name: str):
    """A stand-in for function ``name`` of ``module``: the real one, loaded
    on the first call (for importers that bind the function by name)."""

    def call(*args, **kwargs):
        return getattr(_load(module), name)(*args, **kwargs)

    call.__name__ = name
    return call


def _import_with_stand_ins(importers: tuple[str, ...], deferred: tuple[str, ...],
                           functions: tuple[str, ...] = ()) -> None:
    """Import ``importers`` while each of ``deferred`` not yet loaded is a
    stand-in (carrying ``functions``, "module.name", that are imported by
    name); afterwards only they hold it."""
    if all(name in sys.modules for name in importers):
        return  # too late: whoever imported them has the real modules
    placed = [name for name in deferred if name not in sys.modules]
    for name in placed:
        sys.modules[name] = _StandIn(name)
    for function in functions:
        module, _, name = function.rpartition(".")
        if module in placed:
            setattr(sys.modules[module], name, _later(module, name))
    try:
        for importer in importers:
            importlib.import_module(importer)
    finally:
        for name in placed:
            if isinstance(sys.modules.get(name), _StandIn):
                del sys.modules[name]


def defer_unused_stdlib_modules() -> None:
    """``inspect`` for ``dataclasses``, ``ipaddress`` for ``urllib.parse``."""
    _import_with_stand_ins(("dataclasses", "urllib.parse"), ("inspect", "ipaddress"))


def defer_unused_whoosh_modules() -> None:
    """Put the stand-ins in place (a no-op once Whoosh's query modules are loaded)."""
    _import_with_stand_ins(("whoosh.util", "whoosh.util.times", "whoosh.classify", "whoosh.highlight",
                            "whoosh.filedb.compound"),
                           ("random", "calendar", "html", "shutil"), ("html.escape", "shutil.copyfileobj"))
    if _MORPH in sys.modules or "whoosh.query.terms" in sys.modules:
        return
    # This stand-in stays until used: whoosh.query.terms, which imports it,
    # loads later, with the rest of whoosh.query.
    stand_in = _StandIn(_MORPH)
    stand_in.variations = _variations
    sys.modules[_MORPH] = stand_in
