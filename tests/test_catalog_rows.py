"""The catalog's stored row format (index/rows.py): values that can be
derived are stored as NULL and come back exactly as the article gives them,
including the cases where they cannot be derived and must be kept."""

from __future__ import annotations

import hashlib
import sqlite3

from clihelp import article, run_cli
from healthkb.corpus import load_article, scan_kb
from healthkb.index.api import open_index
from healthkb.index.store import index_paths
from healthkb.kb import KB


def test_rows_read_back_as_parsed_whether_their_values_were_derivable_or_kept(make_kb):
    root = make_kb({
        "plain/knee-care.txt": article("Knees carry the body all day long.", nxt="Nameless note"),
        # An upper-case extension: the path is not the id + ".txt".
        "plain/Shouting.TXT": article("Loud file names still hold articles."),
        # No heading, a file name that is not words: the title comes from the
        # body, then a neighbour's nav line renames it (the base title is kept).
        "plain/0042.txt": article("Notes without a name of their own here.", prev="Knee care"),
        # Not UTF-8: decoded as cp1252 with a warning.
        "plain/old-file.txt": "Caf\xe9 au lait, an old file. |\n".encode("cp1252"),
        "plain/headed.txt": article("Headed body text for this one.", heading="A heading"),
        # Titled by its file name, then renamed by a nav line naming it.
        "plain/sleep-well.txt": article("Sleep comes easier in a dark room."),
        "plain/pointer.txt": article("Points at the sleep article.", nxt="SLEEP WELL!"),
    })
    assert run_cli("--kb", str(root), "reindex").code == 0
    files = {file.id: file for file in scan_kb(root).files}
    with open_index(KB(root, "option"), refresh=False) as ix:
        for article_id, file in files.items():
            parsed, decoded = load_article(file)
            row = ix.catalog.article(article_id)
            assert (row.path, row.encoding, row.warnings) == (parsed.path, parsed.encoding, parsed.warnings)
            assert (row.base_title, row.base_source) == (parsed.title, parsed.title_source)
            assert row.sha256 == decoded.sha256 == hashlib.sha256((root / parsed.path).read_bytes()).hexdigest()
        renamed = ix.catalog.article("plain/0042")
        assert (renamed.title, renamed.title_source) == ("Nameless note", "nav")
        assert renamed.base_source == "body" and renamed.base_title != renamed.title
        named = ix.catalog.article("plain/sleep-well")
        assert (named.title, named.base_title, named.base_source) == ("SLEEP WELL!", "Sleep well", "filename")
    db = sqlite3.connect(index_paths(KB(root, "option")).catalog)
    stored = {r[0]: r[1:] for r in db.execute("SELECT id, stored_path, base_title, encoding, warnings, length(sha256) FROM articles")}
    db.close()
    assert stored["plain/knee-care"] == (None, None, None, None, 32)  # everything derivable
    assert stored["plain/Shouting"][0] == "plain/Shouting.TXT"
    assert stored["plain/0042"][1] is not None  # body title, kept once a nav line renamed it
    assert stored["plain/old-file"][2] == "cp1252" and stored["plain/old-file"][3] is not None
    assert stored["plain/headed"][:2] == (None, None)  # the heading is the display title
    assert stored["plain/sleep-well"][1] is None  # the file name gives it again
    shown = run_cli("--kb", str(root), "show", "plain/Shouting", "--json").json
    assert shown["path"] == "plain/Shouting.TXT"
