"""`python -m healthkb`: the same command line as the `healthkb` script."""

from healthkb.cli import entry

entry()
