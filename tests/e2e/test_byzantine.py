"""Byzantine and lazy validators punished end to end: real node processes, real libp2p on
127.0.0.1, one network for one story whose steps build on each other:

1. node3 runs with the test-only fault switch `ATTRCHAIN_TEST_FAULT=double_sign:3`
   (node/runtime/faults.py): every prevote it sends is followed by a conflicting one. Honest
   vote keepers turn the pair into evidence, a proposer includes it in block H, node3 is
   slashed by `slash_double_sign_ppm`, tombstoned, and absent from the set of H+2.
2. Stake changes by transactions (create_validator, stake, unstake) change the set at H+2.
3. A validator stopped past the downtime window is jailed (slashed by
   `slash_downtime_ppm`), and once restarted comes back with an `unjail` tx.

Genesis uses a small downtime window (10 blocks) and jail time (4 blocks) so all of this
fits in about a minute. Waits are conditions with deadlines, never sleeps.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from e2e_harness import Net, wait_until
from node.home import DEFAULT_STAKE, Home
from node.keys import encode_address
from state.codec import decode_value
from state.keys import validator_key
from state.params import Params

pytestmark = [pytest.mark.xdist_group("e2e"), pytest.mark.slow, pytest.mark.timeout(150)]

PARAMS = {"signed_blocks_window": 10, "min_signed_ppm": 500_000, "downtime_jail_blocks": 4}
P = Params.from_json(PARAMS)


class ByzNet(Net):
    """The harness's network with small liveness parameters in its genesis."""

    def __init__(self, directory: Path):
        super().__init__(directory, n_validators=4, n_full=1)
        from node.config import save_config
        for n in self.info.nodes:
            home = Home(Path(n.home))
            # Everyone lists everyone, the full node (the validator-to-be) included: with
            # one-way listing the full node takes its peer as a gossipsub direct peer, the
            # peer does not reciprocate, and no gossip ever reaches the full node (it then
            # follows by catch-up only and, once a validator, never votes in time).
            cfg = home.load_config()
            cfg.p2p.persistent_peers = [o.multiaddr for o in self.info.nodes if o is not n]
            save_config(home.config_file, cfg)
            doc = json.loads(home.genesis_file.read_text())
            doc["params"].update(PARAMS)
            home.genesis_file.write_text(json.dumps(doc, indent=2) + "\n")

    # -- reads over RPC
    def set_at(self, node, height: int) -> dict[str, int]:
        """{consensus address hex: power} of the validator set of `height`."""
        vs = self.clients[node.name].get("/validators", height=height)
        return {v["address"]: v["voting_power"] for v in vs["validators"]}

    def record(self, node, operator: bytes, height: int | None = None) -> list:
        q = self.clients[node.name].query("key", key=validator_key(operator).hex(), height=height)
        return decode_value(bytes.fromhex(q["raw_value"]))  # [pubkey, bonded, jailed, until, tombstoned]

    def consensus_address(self, node) -> str:
        from consensus.crypto import address_from_pubkey
        return address_from_pubkey(Home(Path(node.home)).validator_key().pub_key).hex()

    def operator(self, node):
        """(name, key) of a genesis validator's operator account (in its home's keyring)."""
        return Home(Path(node.home)).keyring.get(node.name)

    def send(self, node, key, kind: str, fields: list) -> dict:
        """Sign with `key` (fresh nonce from the node) and wait until committed."""
        from state.tx import sign_tx
        c = self.clients[node.name]
        nonce = c.query("account", address=encode_address(key.address))["nonce"]
        raw = sign_tx(SigningKey(key.seed), self.info.chain_id, nonce, 1000, kind, fields)
        res = c.broadcast_tx_commit(raw, timeout_ms=30_000)
        assert res["committed"], res
        assert res["tx_result"]["code"] == 0, res
        return res

    def wait_signing(self, node, address: str, from_height: int, timeout: float = 30) -> int:
        """The first height >= from_height whose commit holds `address`'s precommit. A
        commit holds the precommits its proposer had when it decided (> 2/3, not all), so
        one height may miss a live validator; some height soon must not."""
        seen = [from_height]

        def signed() -> int | None:
            top = self.height(node)
            while seen[0] < top:  # the commit of h travels in block h + 1
                h = seen[0]
                if address in self.signers_of(node, h):
                    return h
                seen[0] += 1
            return None
        return wait_until(signed, timeout, f"{address[:8]} in a commit from height {from_height}")

    def find_evidence_block(self, node, from_height: int) -> int | None:
        """The first height >= from_height whose block carries evidence."""
        for h in range(from_height, self.height(node) + 1):
            if self.clients[node.name].get("/block", height=h)["evidence"]:
                return h
        return None


@pytest.fixture
def net():
    d = Path(tempfile.mkdtemp(prefix="attrchain-e2e-byz-"))
    n = ByzNet(d)
    try:
        for v in n.validators[:3]:
            n.start(v)
        n.start_faulty(n.validators[3], "double_sign:3")
        n.start(n.full[0])
        n.wait_height(n.validators, 1, timeout=30)
        yield n
    finally:
        n.stop_all()
        if not os.environ.get("ATTRCHAIN_E2E_KEEP"):  # keep the homes (logs) for a post-mortem
            shutil.rmtree(d, ignore_errors=True)


def check_double_signer_is_slashed_and_leaves_the_set_at_h_plus_2(net):
    v0, byz = net.validators[0], net.validators[3]
    honest = net.validators[:3]
    byz_addr = net.consensus_address(byz)
    byz_op = net.operator(byz).address
    h_ev = wait_until(lambda: net.find_evidence_block(v0, 3), 40, "a block with evidence")
    block = net.clients["node0"].get("/block", height=h_ev)
    from consensus.types import DuplicateVoteEvidence
    ev = DuplicateVoteEvidence.decode(bytes.fromhex(block["evidence"][0]))
    assert ev.validator.hex() == byz_addr and ev.height < h_ev
    assert ev.vote_a.value_id != ev.vote_b.value_id
    net.wait_height(honest, h_ev + 2, timeout=20)
    # slashed by the ledger's fraction, tombstoned, jailed forever -- in block h_ev exactly
    before = net.record(v0, byz_op, h_ev - 1)
    after = net.record(v0, byz_op, h_ev)
    assert before[1] == DEFAULT_STAKE and not before[4]
    assert after[1] == DEFAULT_STAKE - DEFAULT_STAKE * P.slash_double_sign_ppm // 1_000_000
    assert after[2] and after[4]
    # still in the set of h_ev + 1 (decided before the evidence), gone from h_ev + 2 on
    assert byz_addr in net.set_at(v0, h_ev + 1)
    assert byz_addr not in net.set_at(v0, h_ev + 2)
    # the other three keep committing, on one chain
    top = net.height(v0)
    net.wait_height(honest, top + 3, timeout=30)
    for h in range(h_ev, top + 3):
        assert len({net.block_id(n, h) for n in honest}) == 1, f"fork at {h}"
    assert byz_addr not in net.set_at(v0, net.height(v0) + 1)
    from testnet.network import stop_node
    stop_node(byz)  # out of the set for good; spare the machine its CPU


def check_stake_transactions_change_the_set_at_h_plus_2(net):
    v0, full = net.validators[0], net.full[0]
    honest = net.validators[:3]
    # create_validator: the full node's consensus key, bonded by a funded account
    heidi = net.ring.get("heidi")
    new_addr = net.consensus_address(full)
    res = net.send(v0, heidi, "create_validator", [Home(Path(full.home)).validator_key().pub_key,
                                                    DEFAULT_STAKE])
    h = res["height"]
    net.wait_height(honest, h)
    assert new_addr not in net.set_at(v0, h + 1)
    assert net.set_at(v0, h + 2)[new_addr] == DEFAULT_STAKE // 1_000_000
    # the new validator signs: its precommit shows up in commits once it is in the set
    net.wait_signing(v0, new_addr, h + 2)
    # stake / unstake by an existing validator's operator
    op0, addr0 = net.operator(v0), net.consensus_address(v0)
    res = net.send(v0, op0, "stake", [50_000_000])
    h = res["height"]
    net.wait_height([v0], h)
    assert net.set_at(v0, h + 1)[addr0] == 100
    assert net.set_at(v0, h + 2)[addr0] == 150
    res = net.send(v0, op0, "unstake", [50_000_000])
    h = res["height"]
    assert net.set_at(v0, h + 1)[addr0] == 150
    assert net.set_at(v0, h + 2)[addr0] == 100


def check_stopped_validator_is_jailed_then_unjailed(net):
    from testnet.network import stop_node
    v0, lazy = net.validators[0], net.validators[1]
    live = [net.validators[0], net.validators[2], net.full[0]]
    lazy_addr, lazy_op = net.consensus_address(lazy), net.operator(lazy)
    stop_node(lazy)
    # jailed once it signed < 50 % of a 10-block window
    def jailed_at():
        h = net.height(v0)
        rec = net.record(v0, lazy_op.address, h)
        return h if rec[2] else None
    try:
        h_jail = wait_until(jailed_at, 60, "the stopped validator jailed")
    except AssertionError as e:  # say where the chain stood
        raise AssertionError(f"{e}; heights {[net.height(n) for n in net.info.nodes]}") from None
    # find the block that jailed it (the first height whose state has it jailed)
    while net.record(v0, lazy_op.address, h_jail - 1)[2]:
        h_jail -= 1
    rec = net.record(v0, lazy_op.address, h_jail)
    assert rec[1] == DEFAULT_STAKE - DEFAULT_STAKE * P.slash_downtime_ppm // 1_000_000
    assert rec[3] == h_jail + P.downtime_jail_blocks and not rec[4]
    assert lazy_addr in net.set_at(v0, h_jail + 1)
    net.wait_height(live[:2], h_jail + 2, timeout=20)
    assert lazy_addr not in net.set_at(v0, h_jail + 2)
    # back up, catch up, unjail once the jail time is over
    net.start(lazy)
    net.wait_height(live[:2], rec[3], timeout=30)
    res = net.send(v0, lazy_op, "unjail", [])
    h = res["height"]
    assert lazy_addr not in net.set_at(v0, h + 1)
    net.wait_height(live[:2], h, timeout=10)
    assert net.set_at(v0, h + 2)[lazy_addr] == rec[1] // 1_000_000
    # and it signs again
    net.wait_signing(v0, lazy_addr, h + 2)


def test_byzantine_and_offline_validators_are_punished_and_stake_txs_change_the_set(net):
    """One story on one network (its steps build on each other, so they are one test:
    pytest-xdist may interleave a module's tests with other modules of the group, and a
    module fixture would then be rebuilt between them)."""
    check_double_signer_is_slashed_and_leaves_the_set_at_h_plus_2(net)
    check_stake_transactions_change_the_set_at_h_plus_2(net)
    check_stopped_validator_is_jailed_then_unjailed(net)


def test_fault_switch_parses_only_known_faults():
    from node.runtime.faults import Faults, parse
    assert parse(None) == Faults() and not parse("").any
    assert parse("double_sign:7").double_sign_from == 7
    for junk in ("double_sign", "double_sign:0", "double_sign:x", "doublesign:3"):
        with pytest.raises(ValueError, match="ATTRCHAIN_TEST_FAULT"):
            parse(junk)
