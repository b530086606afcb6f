"""The query side of search, one module per step of the pipeline:

1. ``reading``    - read what was typed: which characters are syntax and
                    which are prose ("?" ending a question is not a
                    wildcard), limits, nothing searchable left.
2. ``question``   - keyword or question; a question's content words and
                    intent (treatment, causes, ...).
3. ``plainquery`` - plain words as a Whoosh query without the query parser.
4. ``expansion``  - add the health vocabulary's synonyms to the query.
5. ``search``     - the driver: runs the steps in order, pages the hits.
6. ``ranking``    - why a hit ranks where it does beyond BM25F: a question's
                    title re-ranking, a keyword query's phrase bonus and
                    all-words-then-any order, and the hit count.
7. ``rescue``     - what to try when the query found nothing.
8. ``spelling``   - corrections for words that are not words.
9. ``snippets``   - the lines of each hit that show why it matched.

``bounds`` caps what a parsed query may cost (wildcards, ranges) between
expansion and the run; ``collecting`` scores a question's long OR query term
at a time (the same page and scores as Whoosh's collector, for less work);
``startup`` keeps a search process's imports lean.

The index package (catalog, schema, updates, store) sits below this one;
``healthkb.index.api`` opens a :class:`healthkb.query.search.Searcher`.
Whoosh is imported by these modules only, so commands that never search
never pay for it.
"""
