"""`links`, `check`, `export`, `graph` and `read` (being written)."""

COMMANDS: list = []
