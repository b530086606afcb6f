"""Which commands only read the index, known before click is imported.

``healthkb.cli.main`` starts the freshness walk of these commands before
anything heavy loads (freshness.py); ``app.run`` may run them once more
after a damaged catalog was rebuilt, since each prints nothing before it
fails (export and graph stream as they go, so they are not here).
"""

from __future__ import annotations

READING_COMMANDS = frozenset({"search", "similar", "show", "list", "links", "check", "stats"})
