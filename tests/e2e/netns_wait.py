"""Run inside a namespace: wait until every RPC address given reports height >= H.

    python netns_wait.py HEIGHT TIMEOUT_S RPC [RPC ...]

Prints {rpc: status} as JSON; exit 1 (with the last answers) if the deadline passes."""
from __future__ import annotations

import json
import sys
import time

from node.cli.rpc_client import RpcClient, RpcClientError


def main() -> int:
    height, timeout, rpcs = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
    deadline = time.monotonic() + timeout
    last: dict[str, object] = {}
    while True:
        for rpc in rpcs:
            try:
                with RpcClient(rpc, timeout=2) as c:
                    last[rpc] = c.status()
            except RpcClientError as e:
                last[rpc] = f"unreachable: {e}"
        if all(isinstance(s, dict) and s["height"] >= height for s in last.values()):
            print(json.dumps(last))
            return 0
        if time.monotonic() > deadline:
            print(json.dumps(last, default=str))
            return 1
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
