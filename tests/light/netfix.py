"""A real 4-validator testnet for the light-client tests (OS processes, libp2p on
127.0.0.1, free ports), started through light_node.py so the light protocols are served."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from node.rpc_client import RpcClient, RpcClientError
from testnet.network import NodeInfo, TestnetInfo, generate, stop_node

LAUNCHER = Path(__file__).with_name("light_node.py")


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
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        for n in self.nodes:
            log = open(n.logfile, "ab")
            p = subprocess.Popen([sys.executable, str(LAUNCHER), "--home", n.home], stdout=log,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, cwd=n.home)
            log.close()
            n.pidfile.write_text(f"{p.pid}\n")
            self.procs.append(p)

    def stop(self) -> None:
        for n in self.nodes:
            stop_node(n, signal.SIGTERM, timeout=5)
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)

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
