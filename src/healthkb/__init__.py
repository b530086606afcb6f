"""healthkb: an offline-first command-line knowledge base of health articles."""

__version__ = "0.1.0"
