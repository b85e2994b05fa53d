"""The `attrchain` command line: the root group and its table of lazily imported commands
(cli.py), and the commands themselves, each module one group of them; the client pieces
they share (rpc_client.py, the keyring options and backends, click types).

Only `main` and `cli` are for others, so `attrchain --help` loads click and the table,
nothing of what the commands use."""
from node.cli.cli import cli, main

__all__ = ["cli", "main"]
