"""Many machines: 4 validators on 4 hosts and a full node + light client on a fifth, each
host a Linux network namespace with its own IP on one bridge (tests/e2e/netns.py), run
from nothing but what `attrchain testnet generate` wrote. Needs root (CI has it); where
namespaces cannot be made the test says so and skips."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from netns import Lan, NamespacesUnavailable, python
from node.home import DEFAULT_BALANCE

# in the e2e group: run one after another with the other multi-process tests, never beside them
pytestmark = [pytest.mark.xdist_group("e2e"), pytest.mark.slow, pytest.mark.timeout(240)]

WAIT = str(Path(__file__).with_name("netns_wait.py"))
CLIENT = 4  # the fifth host: full node, light client, and where commands are run from


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


class Phases:
    """Seconds since the start at each step, printed (shown with -s or on failure)."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def __call__(self, what: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.1f} s] {what}", flush=True)


def ok_json(r: subprocess.CompletedProcess) -> dict:
    assert r.returncode == 0, f"rc {r.returncode}\nstdout: {r.stdout[-3000:]}\nstderr: {r.stderr[-3000:]}"
    return json.loads(r.stdout)


def test_validators_on_four_hosts_full_node_and_light_client_on_a_fifth(own_dir):
    phase = Phases()
    lan = Lan(5)
    try:
        lan.up()
    except NamespacesUnavailable as e:
        lan.down()
        pytest.skip(f"needs Linux network namespaces (root): {e}")
    procs: list[subprocess.Popen] = []
    try:
        out = own_dir / "net"
        r = subprocess.run(python("-m", "node", "testnet", "generate", "-n", "4", "--hosts", ",".join(lan.ips[:4]),
                                  "--full-hosts", lan.ips[CLIENT], "--out", str(out), "--chain-id", "netns-chain", "--fast"),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        phase("namespaces up, homes generated")
        written = "\n".join(p.read_text() for p in out.rglob("*") if p.is_file())
        assert "127.0.0.1" not in written and "localhost" not in written
        for i in range(5):
            procs.append(lan.spawn(i, python("-m", "node", "start", "--home", str(out / f"node{i}")),
                                   out / f"node{i}.log"))
        info = json.loads((out / "testnet.json").read_text())
        rpcs = [n["rpc"] for n in info["nodes"]]
        full_rpc = rpcs[CLIENT]
        assert full_rpc.startswith(lan.ips[CLIENT] + ":")

        # blocks commit on every validator and the full node follows
        first = ok_json(lan.run(CLIENT, python(WAIT, "2", "90", *rpcs), timeout=120))
        # ... over the bridge: every validator has 3+ peers (validators, the full node), all at other IPs
        assert all(first[rpc]["peers"] >= 3 for rpc in rpcs[:4]), first
        phase("height 2 on all five nodes")

        # a tx submitted through the full node's RPC is committed by the validators
        bob = json.loads((out / "keyring" / "bob.json").read_text())["address"]
        res = ok_json(lan.run(CLIENT, python("-m", "node", "tx", "transfer", "--to", bob, "--amount", "7",
                                             "--from", "alice", "--keyring-dir", str(out / "keyring"),
                                             "--node", full_rpc)))
        assert res["committed"] and res["tx_result"]["code"] == 0, res
        phase(f"tx committed at height {res['height']}")
        statuses = ok_json(lan.run(CLIENT, python(WAIT, str(res["height"] + 1), "60", *rpcs)))
        assert {s["validator_address"] for s in statuses.values() if s["voting_power"] > 0} and \
            statuses[full_rpc]["voting_power"] == 0

        phase("every node past it")
        # a light client on the fifth host verifies a query against the genesis validators
        light = own_dir / "light"
        ok_json(lan.run(CLIENT, python("-m", "node", "light", "init", "--dir", str(light), "--node", full_rpc,
                                       "--genesis", str(out / f"node{CLIENT}" / "config" / "genesis.json"))))
        q = ok_json(lan.run(CLIENT, python("-m", "node", "light", "query", "account", bob, "--dir", str(light))))
        assert q["verified"] and q["height"] >= res["height"]
        assert q["balance"] == DEFAULT_BALANCE + 7
        # ... and over libp2p from that host, dialling the full node's generated address
        full = info["nodes"][CLIENT]
        q = ok_json(lan.run(CLIENT, python("-m", "node", "light", "query", "account", bob, "--dir", str(light),
                                           "--peer", f"{full['p2p']}/p2p/{full['peer_id']}")))
        assert q["verified"] and q["balance"] == DEFAULT_BALANCE + 7
        phase("light client verified the query (RPC and libp2p)")
    finally:
        stop(procs)
        leftovers = lan.down()
        phase("stopped, namespaces deleted")
    assert not leftovers, leftovers
