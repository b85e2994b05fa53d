"""Drive a real multi-process testnet from tests: start/stop/kill nodes, poll RPC."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from nacl.signing import SigningKey

from node.keys import Keyring, encode_address
from node.cli.rpc_client import RpcClient, RpcClientError
from testnet.network import NodeInfo, TestnetInfo, generate, is_running, read_pid, start_node, stop_node


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
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


class Net:
    def __init__(self, directory: Path, n_validators: int = 4, n_full: int = 1,
                 config_overrides: dict | None = None):
        self.dir = directory
        overrides = {"consensus": {"timeout_commit_ms": 300}, **(config_overrides or {})}
        self.info: TestnetInfo = generate(directory, n_validators, n_full=n_full,
                                          chain_id="e2e-chain", config_overrides=overrides)
        self.validators = [n for n in self.info.nodes if n.validator]
        self.full = [n for n in self.info.nodes if not n.validator]
        self.clients = {n.name: RpcClient(n.rpc, timeout=5) for n in self.info.nodes}
        self.ring = Keyring(directory / "keyring")
        self.nonces: dict[str, int] = {}

    def start(self, node: NodeInfo) -> None:
        start_node(node)

    def start_faulty(self, node: NodeInfo, fault: str) -> None:
        """Start `node` with a test-only fault switch in its environment (node/runtime/faults.py)."""
        old = os.environ.get("ATTRCHAIN_TEST_FAULT")
        os.environ["ATTRCHAIN_TEST_FAULT"] = fault
        try:
            self.start(node)
        finally:
            if old is None:
                del os.environ["ATTRCHAIN_TEST_FAULT"]
            else:
                os.environ["ATTRCHAIN_TEST_FAULT"] = old

    def kill(self, node: NodeInfo) -> None:
        """SIGKILL: no clean shutdown at all."""
        pid = read_pid(node)
        assert pid is not None and is_running(node)
        stop_node(node, signal.SIGKILL, timeout=5)

    def stop_all(self) -> None:
        for n in self.info.nodes:
            stop_node(n, signal.SIGTERM, timeout=5)
        for c in self.clients.values():
            c.close()

    def status(self, node: NodeInfo) -> dict:
        return self.clients[node.name].status()

    def height(self, node: NodeInfo) -> int:
        try:
            return self.status(node)["height"]
        except RpcClientError:
            return -1

    def wait_height(self, nodes, height: int, timeout: float = 30) -> None:
        wait_until(lambda: all(self.height(n) >= height for n in nodes), timeout,
                   f"{[n.name for n in nodes]} to reach height {height}")

    def block_id(self, node: NodeInfo, height: int) -> str:
        return self.clients[node.name].get("/block", height=height)["block_id"]

    def app_hash_after(self, node: NodeInfo, height: int) -> str:
        """The app hash after `height` (the proof root of a query at that height)."""
        return self.clients[node.name].get("/query/key", key="00", height=height)["app_hash"]

    def transfer(self, node: NodeInfo, sender: str, to: str, amount: int, wait: bool = False) -> dict:
        key = self.ring.get(sender)
        c = self.clients[node.name]
        if sender not in self.nonces:
            self.nonces[sender] = c.query("account", address=encode_address(key.address))["nonce"]
        from state.tx import sign_tx
        raw = sign_tx(SigningKey(key.seed), self.info.chain_id, self.nonces[sender], 1000,
                      "transfer", [self.ring.get(to).address, amount])
        res = c.broadcast_tx_commit(raw, timeout_ms=20_000) if wait else c.broadcast_tx_sync(raw)
        ok = (res.get("check_tx", res))["code"] == 0
        if ok:
            self.nonces[sender] += 1
        return res

    def signers_of(self, node: NodeInfo, height: int) -> set[str]:
        commit = self.clients[node.name].get("/commit", height=height)["commit"]
        return {s["validator"] for s in commit["signatures"]}


@contextmanager
def running_net(n_validators: int = 4, n_full: int = 1) -> Iterator[Net]:
    """A started testnet in its own directory (not pytest's basetemp: see conftest.own_dir),
    stopped and removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix="attrchain-e2e-net-"))
    n = Net(d, n_validators=n_validators, n_full=n_full)
    try:
        for v in n.validators:
            n.start(v)
        n.wait_height(n.validators, 1, timeout=30)
        yield n
    finally:
        n.stop_all()
        shutil.rmtree(d, ignore_errors=True)


def spawn_garbage_peer(target: NodeInfo, chain_id: str, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(Path(__file__).with_name("garbage_peer.py")),
                             target.multiaddr, chain_id, str(seconds)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
