"""Shell completion: `healthkb completion bash|zsh|fish`, and REF completion.

Click writes the shell scripts and runs the protocol; this module adds what
click cannot know: the articles.  ``complete_ref`` reads the catalog
directly, read-only, with one SQL query, so that a TAB costs no Whoosh
import, no index refresh and no KB creation (at 10,000 articles it stays
well under the 100 ms a TAB may take).  A KB that has no index yet simply
offers nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

SHELLS = ("bash", "zsh", "fish")
MAX_ITEMS = 100  # more than a screen of candidates helps nobody
COMPLETE_VAR = "_HEALTHKB_COMPLETE"


def _kb_root(ctx: click.Context) -> Path | None:
    """The KB a completion is for, found the way commands find it, but
    never created and never an error."""
    from healthkb.kb import existing_kb_root

    option = ctx.meta.get("healthkb.kb_path") or ctx.find_root().params.get("kb_path")
    return existing_kb_root(option)


def _catalog_path(root: Path) -> Path | None:
    from healthkb.index.catalog import CATALOG_NAME
    from healthkb.kb import KB, state_dir

    state, _fallback = state_dir(KB(root, "completion"))
    path = state / CATALOG_NAME
    return path if path.is_file() else None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# Only the two small covering indexes (id; title_key) are scanned, never the
# wide article rows: that keeps a TAB at 10,000 articles to a few ms.
_CANDIDATES = r"""
WITH hits(rid, rank) AS (
    SELECT rowid, CASE WHEN id LIKE :start ESCAPE '\' THEN 0
                       WHEN id LIKE :name ESCAPE '\' THEN 1 ELSE 3 END
    FROM articles
    WHERE id LIKE :start ESCAPE '\' OR id LIKE :name ESCAPE '\' OR id LIKE :word ESCAPE '\'
    UNION ALL
    SELECT rowid, 2 FROM articles WHERE :key != '' AND title_key LIKE :key_start ESCAPE '\'
)
SELECT a.id, a.title, min(h.rank) AS best FROM hits h JOIN articles a ON a.rowid = h.rid
GROUP BY a.rowid ORDER BY best, a.id LIMIT :limit
"""


def ref_candidates(catalog: Path, incomplete: str, limit: int = MAX_ITEMS) -> list[tuple[str, str]]:
    """(id, title) of the articles whose id or file name starts with
    ``incomplete`` (case-insensitive), whose title does (as a REF matches
    titles: case, accents and punctuation aside), or whose file name has a
    word that does; best first in that order."""
    from healthkb.text import match_key

    text = incomplete.strip()
    db = sqlite3.connect(f"{catalog.as_uri()}?mode=ro", uri=True)
    try:
        # Ids that start with the text, straight from the id index: when they
        # fill the list (a folder typed so far), nothing else would show.
        rows = db.execute(
            "SELECT id, title FROM articles WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
            (text, text + "\U0010ffff", limit),
        ).fetchall()
        if len(rows) < limit:
            key = match_key(text)
            rows = [row[:2] for row in db.execute(_CANDIDATES, {
                "start": f"{_like(text)}%", "name": f"%/{_like(text)}%", "word": f"%-{_like(text)}%",
                "key": key, "key_start": f"{_like(key)}%", "limit": limit,
            })]
    except sqlite3.Error:
        return []
    finally:
        db.close()
    return [(article_id, title) for article_id, title in rows]


def complete_ref(ctx: click.Context, _param, incomplete: str) -> list:
    """click's shell_complete for REF arguments: ids, described by their titles."""
    from healthkb.text import sanitize_line

    root = _kb_root(ctx)
    catalog = _catalog_path(root) if root is not None else None
    if catalog is None:
        return []
    # Imported here: every command that takes a REF names this function,
    # and only a TAB calls it.
    from click.shell_completion import CompletionItem

    return [CompletionItem(article_id, help=sanitize_line(title)) for article_id, title in ref_candidates(catalog, incomplete)]


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    Completes commands, options, and the REF of show, read, links, similar
    and edit with article ids (titles shown where the shell can).

    \b
    Install (then open a new shell):
      bash: add to ~/.bashrc
        eval "$(healthkb completion bash)"
      zsh: add to ~/.zshrc
        eval "$(healthkb completion zsh)"
      fish:
        healthkb completion fish \\
          > ~/.config/fish/completions/healthkb.fish
    """
    from healthkb.cli import cli
    from healthkb.cli.common import write_out

    from click.shell_completion import get_completion_class

    script = get_completion_class(shell)(cli, {}, "healthkb", COMPLETE_VAR).source()
    write_out(script.rstrip("\n"))


COMMANDS = [completion]
