"""The index: a SQLite catalog (fingerprints, footers, links) beside sharded
Whoosh indexes (full text).  ``healthkb.index.api`` is the entry point for
commands; Whoosh itself is only imported by the modules that need it.
"""
