"""The index: a SQLite catalog (fingerprints, footers, links) beside sharded
Whoosh indexes (full text), and keeping both up to date.
``healthkb.index.api`` is the entry point for commands; searching them is
the query package's work (``healthkb.query``).
"""
