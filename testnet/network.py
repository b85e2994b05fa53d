"""A local multi-process testnet: generate homes, start/stop node processes, read status.

Layout of a testnet directory:

    <dir>/testnet.json          chain id, nodes (home, rpc, p2p, peer id), account names
    <dir>/keyring/              account keys with genesis balances (alice, bob, ...)
    <dir>/node<i>/              a full node home (config, genesis, keys, data)
    <dir>/node<i>/node.pid      pid of the running process (removed on clean stop)
    <dir>/node<i>/node.log      its JSON log lines
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from node.config import Config
from node.home import DEFAULT_BALANCE, DEFAULT_STAKE, Home, init_home, make_genesis, write_genesis
from node.keys import Keyring
from node.cli.peer_id import peer_id
from node.cli.rpc_client import RpcClient, RpcClientError

USER_ACCOUNTS = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")


@dataclass
class NodeInfo:
    name: str
    home: str
    rpc: str
    p2p: str
    peer_id: str
    validator: bool = True

    @property
    def pidfile(self) -> Path:
        return Path(self.home) / "node.pid"

    @property
    def logfile(self) -> Path:
        return Path(self.home) / "node.log"

    @property
    def multiaddr(self) -> str:
        return f"{self.p2p}/p2p/{self.peer_id}"


@dataclass
class TestnetInfo:
    __test__ = False  # not a pytest test class
    chain_id: str
    nodes: list[NodeInfo]
    accounts: list[str]

    def save(self, directory: Path) -> None:
        doc = {"chain_id": self.chain_id, "accounts": self.accounts,
               "nodes": [asdict(n) for n in self.nodes]}
        (directory / "testnet.json").write_text(json.dumps(doc, indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> "TestnetInfo":
        try:
            doc = json.loads((directory / "testnet.json").read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f"{directory}: no testnet here (run `attrchain testnet up`)") from None
        return cls(doc["chain_id"], [NodeInfo(**n) for n in doc["nodes"]], doc["accounts"])


def free_ports(n: int) -> list[int]:
    """n distinct ports free right now on 127.0.0.1 (sockets held until all are chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def fast_config(moniker: str) -> Config:
    """Short timeouts: a local testnet commits about one block a second."""
    cfg = Config()
    cfg.node.moniker = moniker
    c = cfg.consensus
    c.timeout_propose_ms, c.timeout_propose_delta_ms = 2000, 500
    c.timeout_prevote_ms, c.timeout_prevote_delta_ms = 500, 250
    c.timeout_precommit_ms, c.timeout_precommit_delta_ms = 500, 250
    c.timeout_commit_ms = 750
    return cfg


def generate(directory: Path, n_validators: int, *, chain_id: str = "attrchain-testnet",
             n_full: int = 0, config_overrides: dict | None = None,
             accounts: tuple[str, ...] = USER_ACCOUNTS, params: dict | None = None) -> TestnetInfo:
    """Homes for n validators (+ n_full non-validators), one genesis (chain `params` as in
    genesis.json; default: state/params.py's), all peers listed."""
    directory.mkdir(parents=True, exist_ok=True)
    total = n_validators + n_full
    ports = free_ports(2 * total)
    homes: list[Home] = []
    nodes: list[NodeInfo] = []
    for i in range(total):
        name = f"node{i}"
        cfg = fast_config(name)
        for section, values in (config_overrides or {}).items():
            for k, v in values.items():
                setattr(getattr(cfg, section), k, v)
        cfg.p2p.listen = f"/ip4/127.0.0.1/tcp/{ports[2 * i]}"
        cfg.rpc.listen = f"127.0.0.1:{ports[2 * i + 1]}"
        home = init_home(directory / name, name, config=cfg, overwrite=True)
        homes.append(home)
        nodes.append(NodeInfo(name, str(home.root), cfg.rpc.listen, cfg.p2p.listen,
                              peer_id(home.node_key()), validator=i < n_validators))
    ring = Keyring(directory / "keyring")
    balances = []
    for name in accounts:
        key = ring.get(name) if name in ring.names() else ring.add(name)
        balances.append((key.address, DEFAULT_BALANCE))
    validators = []
    for home, info in zip(homes, nodes):
        if not info.validator:
            continue
        op_ring = home.keyring
        op = op_ring.get(info.name) if info.name in op_ring.names() else op_ring.add(info.name)
        balances.append((op.address, DEFAULT_BALANCE))
        validators.append((home.validator_key().pub_key, op.address, DEFAULT_STAKE, info.name))
    doc = make_genesis(chain_id, int(time.time() * 1000), validators, balances, params)
    for home, info in zip(homes, nodes):
        write_genesis(home, doc)
        cfg = home.load_config()
        validators_ = [o for o in nodes if o.validator]
        # a full node knows genesis and ONE peer; validators know each other
        cfg.p2p.persistent_peers = ([o.multiaddr for o in validators_ if o is not info]
                                    if info.validator else [validators_[0].multiaddr])
        cfg.p2p.validator_full_mesh = info.validator  # they do: no relays among them
        from node.config import save_config
        save_config(home.config_file, cfg)
    info = TestnetInfo(chain_id, nodes, list(accounts))
    info.save(directory)
    return info


def node_command(home: str) -> list[str]:
    return [sys.executable, "-m", "node", "start", "--home", home]


def start_node(node: NodeInfo) -> int:
    """Start one node process (its own session, so a Ctrl-C of the launcher spares it)."""
    if is_running(node):
        return read_pid(node) or 0
    log = open(node.logfile, "ab")
    proc = subprocess.Popen(node_command(node.home), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True,
                            cwd=node.home)
    log.close()
    node.pidfile.write_text(f"{proc.pid}\n")
    return proc.pid


def read_pid(node: NodeInfo) -> int | None:
    try:
        return int(node.pidfile.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _is_our_process(pid: int, node: NodeInfo) -> bool:
    """The pid is alive and really runs this node (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    return node.home.encode() in cmdline


def is_running(node: NodeInfo) -> bool:
    pid = read_pid(node)
    return pid is not None and _is_our_process(pid, node)


def stop_node(node: NodeInfo, sig: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
    """Stop a node; SIGKILL if it has not exited within `timeout`. True if it was running."""
    pid = read_pid(node)
    if pid is None or not _is_our_process(pid, node):
        node.pidfile.unlink(missing_ok=True)
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _is_our_process(pid, node):
        _reap(pid)
        time.sleep(0.05)
    if _is_our_process(pid, node):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while _is_our_process(pid, node):
            _reap(pid)
            time.sleep(0.02)
    _reap(pid)
    node.pidfile.unlink(missing_ok=True)
    return True


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def node_status(node: NodeInfo, timeout: float = 2.0) -> dict | None:
    try:
        with RpcClient(node.rpc, timeout=timeout) as c:
            return c.status()
    except RpcClientError:
        return None


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
