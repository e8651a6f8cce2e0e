"""One module per command group; each exposes `cli` (see bot/cli.py)."""
