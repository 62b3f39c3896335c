"""The command line: `main` (main.py: one parser, one handler per command) and how arguments become runs
(launch.py: the run flags, recipes and their options, config loading, the one-line errors)."""

from .main import main

__all__ = ["main"]
