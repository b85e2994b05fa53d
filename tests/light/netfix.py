"""A real 4-validator testnet for the light-client tests: `attrchain start` processes
(testnet/network.py), libp2p on 127.0.0.1, free ports, every process stopped at the end."""
from __future__ import annotations

import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from node.keys import Keyring
from node.cli.rpc_client import RpcClient, RpcClientError
from testnet.network import NodeInfo, TestnetInfo, generate, start_node, stop_node


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except RpcClientError as e:
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class LightNet:
    def __init__(self, directory: Path, n_validators: int = 4):
        self.dir = directory
        self.info: TestnetInfo = generate(directory, n_validators, chain_id="light-chain",
                                          config_overrides={"consensus": {"timeout_commit_ms": 300}})
        self.nodes: list[NodeInfo] = list(self.info.nodes)

    def start(self) -> None:
        for n in self.nodes:
            start_node(n)

    def stop(self) -> None:
        for n in self.nodes:
            stop_node(n, signal.SIGTERM, timeout=5)   # SIGKILL after 5 s

    def rpc(self, i: int = 0) -> RpcClient:
        return RpcClient(self.nodes[i].rpc, timeout=5)

    def height(self, i: int = 0) -> int:
        with self.rpc(i) as c:
            try:
                return c.status()["height"]
            except RpcClientError:
                return -1

    def wait_height(self, h: int, timeout: float = 30.0, i: int = 0) -> int:
        return wait_until(lambda: self.height(i) >= h and self.height(i), timeout, f"height {h}")


@contextmanager
def running_net(directory: Path) -> Iterator[LightNet]:
    """A started testnet past height 2, its keyring as `.ring`; stopped on exit."""
    n = LightNet(directory)
    try:
        n.start()
        n.wait_height(2, timeout=30)
        n.ring = Keyring(n.dir / "keyring")
        yield n
    finally:
        n.stop()
