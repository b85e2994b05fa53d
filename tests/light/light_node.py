"""Run `attrchain start` with the light-client handlers registered (node/light/serve.py).

The node does not yet call `register_light_handlers` itself (see docs/light.md); until it
does, tests start real node processes through this wrapper, which adds exactly that one
call next to `node.sync.register_handlers` and changes nothing else. Handlers the node
registers itself (same protocol ids) are set after ours, so they win.

    python tests/light/light_node.py --home <home>
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import node.sync as sync  # noqa: E402
from node.light.serve import register_light_handlers  # noqa: E402

_register_node_handlers = sync.register_handlers


def _register_all(node) -> None:
    register_light_handlers(node)
    _register_node_handlers(node)


sync.register_handlers = _register_all

if __name__ == "__main__":
    from node.run import start_command
    start_command(sys.argv[1:])
