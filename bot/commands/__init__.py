"""One module per command group; each exposes `cli` (see bot/cli.py).

Imports of the project's packages sit inside the command functions here, on purpose: every
`bot ...` call imports all command modules to register them, and importing what the commands
use up front (SQLAlchemy, Starlette, the channel SDKs, rasa_sdk, the NLU admin tool) takes
`bot --help` from about 0.65 s to about 2.7 s (measured on the 2-core CI machine:
`time .venv/bin/python -m bot.cli --help` against importing those modules eagerly). The rest
of the code base keeps its imports at module top (scripts/import_graph.py counts the exceptions).
"""
