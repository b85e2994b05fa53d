"""The node: the only layer with trio tasks, disk paths, config, the RPC and the CLI.

Nothing of consensus/, state/ or p2p/ may import it (tests/test_layering.py), so it lists
nothing for them; its parts show their APIs in their own packages: node.cli (the command
line), node.rpc (the HTTP API), node.light (the light client), node.poa (Proof of
Attribution). Its modules and sub-packages use its own modules freely.
"""

__all__: list[str] = []
