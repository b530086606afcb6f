"""The query side of search, one module per step of the pipeline:

1. ``reading``    - read what was typed: limits, control bytes, unusable input.
2. ``plainquery`` - plain words as a Whoosh query without the query parser.
3. ``expansion``  - add the health vocabulary's synonyms to the query.
4. ``search``     - the driver: runs the steps in order, ranks and pages hits.
5. ``rescue``     - what to try when the query found nothing.
6. ``spelling``   - "did you mean": corrections from the KB's own words.
7. ``snippets``   - the lines of each hit that show why it matched.

The index package (catalog, schema, updates, store) sits below this one;
``healthkb.index.api`` opens a :class:`healthkb.query.search.Searcher`.
Whoosh is imported by these modules only, so commands that never search
never pay for it.
"""
