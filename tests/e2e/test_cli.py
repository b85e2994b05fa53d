"""The commands as a user runs them: testnet up/status/load/down, tx and query, the demo."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from testnet.network import TestnetInfo, read_pid

pytestmark = [pytest.mark.xdist_group("e2e"), pytest.mark.slow, pytest.mark.timeout(200)]

CLI = [sys.executable, "-m", "node"]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def test_testnet_up_tx_query_load_down(own_dir):
    d = str(own_dir / "tn")
    pids = []
    try:
        r = run("testnet", "up", "-n", "4", "--dir", d, "--watch", "0", "--timeout", "60")
        assert r.returncode == 0, r.stderr
        assert "first block committed on every node" in r.stderr
        info = TestnetInfo.load(Path(d))
        pids = [read_pid(n) for n in info.nodes]
        assert all(p and alive(p) for p in pids)
        st = run("testnet", "status", "--dir", d)
        assert st.returncode == 0 and all(f"node{i}" in st.stdout for i in range(4))
        # a second `up` on a running testnet is refused, nothing is started twice
        again = run("testnet", "up", "-n", "4", "--dir", d, "--watch", "0")
        assert again.returncode != 0 and "running" in again.stderr
        node = info.nodes[2].rpc
        from node.keys import Keyring, encode_address
        bob_addr = encode_address(Keyring(Path(d) / "keyring").get("bob").address)
        tx = run("tx", "transfer", "--to", bob_addr, "--amount", "123", "--from", "alice",
                 "--keyring-dir", f"{d}/keyring", "--node", node)
        assert tx.returncode == 0, tx.stderr
        res = json.loads(tx.stdout)
        assert res["committed"] and res["tx_result"]["code"] == 0
        q = run("query", "account", bob_addr, "--node", info.nodes[0].rpc)
        assert json.loads(q.stdout)["balance"] == 1_000_000_000_000 + 123
        qt = run("query", "tx", res["hash"], "--node", info.nodes[1].rpc)
        assert json.loads(qt.stdout)["height"] == res["height"]
        bad = run("tx", "transfer", "--to", "open1notanaddress", "--amount", "1", "--from", "alice",
                  "--keyring-dir", f"{d}/keyring", "--node", node)
        assert bad.returncode == 1 and "--to" in bad.stderr
        unknown = run("query", "asset", "00" * 32, "--node", node)
        assert unknown.returncode == 1 and "unknown_asset" in unknown.stderr
        load = run("testnet", "load", "--dir", d, "--rate", "100", "--duration", "3")
        assert load.returncode == 0, load.stderr
        summary = json.loads(load.stdout.strip().splitlines()[-1])
        assert summary["accepted"] == summary["submitted"] == 300, summary  # its refusals by code
        assert summary["committed"] >= summary["accepted"]
    finally:
        down = run("testnet", "down", "--dir", d)
    assert down.returncode == 0 and "node0" in down.stdout
    assert not any(p and alive(p) for p in pids)
    assert not any((Path(d) / f"node{i}" / "node.pid").exists() for i in range(4))


def test_demo_runs_the_story_on_four_validators(own_dir):
    r = run("testnet", "demo", "--dir", str(own_dir / "demo"), timeout=150)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = " ".join(r.stdout.split())  # rich wraps lines at the terminal width
    assert "Who earned what" in out and "Finn" in out and "care-nav" in out
    assert "agrees on every node: True" in out
    info = TestnetInfo.load(own_dir / "demo")
    assert not any((Path(n.home) / "node.pid").exists() for n in info.nodes)
