"""The Proof-of-Attribution queries of the RPC (/query/attestation, /query/attributor,
/query/challenge; node/poa/queries.py through NodeRpc) over a real ledger: the figures of
docs/poa.md's worked example at every stage, a proof for every key read, and bad input
refused."""
from __future__ import annotations

from dataclasses import fields
from types import SimpleNamespace

import pytest
import trio

from asset_helpers import ADDR, accepted, cast_chain, create_datanet, register, submit
from ledger_helpers import apply_ok
from node.keys import encode_address
from node.rpc import RpcError
from node.rpc.rpc_backend import NodeRpc
from state.params import Params
from state.poa_records import compute_attestation_id
from state.proof import verify_proof
from state.tx import tx_id

OPEN = 1_000_000
ESCROWED = 2_280_000      # 10 OPEN - 5 % fee, x 40 % to notes, x 60 % pool part (docs/poa.md)


class World:
    """notes (curators dana, bao, chidi): Ada 60 %, Bao 30 %, Chidi 10 % accepted weight;
    Eve's model on notes (40 %) at 10 OPEN, attributor Finn."""

    def __init__(self, make) -> None:
        self.chain = c = cast_chain(make, params=Params(attestation_blocks=3, challenge_blocks=3,
                                                        attributor_bond=10 * OPEN, challenge_bond=OPEN))
        self.notes = create_datanet(c, curators=("dana", "bao", "chidi"))
        self.c = {n: accepted(c, n, self.notes, n, w) for n, w in (("ada", 600_000), ("bao", 300_000),
                                                                   ("chidi", 100_000))}
        self.model = register(c, "eve", "model", [(self.notes, 400_000)], price=10 * OPEN, name="triage")
        submit(c, "eve", "set_attributor", self.model, ADDR["finn"])
        unused = dict.fromkeys(f.name for f in fields(NodeRpc))  # queries read the chain only
        self.rpc = NodeRpc(**{**unused, "chain": SimpleNamespace(store=c.ledger.store, ledger=c.ledger,
                                                                  height=c.ledger.height)})

    def use(self) -> bytes:
        _, raw = submit(self.chain, "uma", "use", self.model, 10 * OPEN)
        return tx_id(raw)

    def query(self, kind: str, **params: str) -> dict:
        self.rpc.chain.height = self.chain.ledger.height
        return trio.run(self.rpc.query, kind, params, None)


def proven(answer: dict) -> bool:
    app_hash = bytes.fromhex(answer["app_hash"])
    return bool(answer["proofs"]) and all(
        verify_proof(app_hash, bytes.fromhex(p["key"]), None if p["value"] is None else bytes.fromhex(p["value"]),
                     bytes.fromhex(p["proof"])) for p in answer["proofs"])


@pytest.fixture
def world(make):
    return World(make)


def test_attestation_of_a_use_pending_attested_then_paid(world):
    use = world.use()
    [e] = world.query("attestation", hash=use.hex())["escrows"]
    assert (e["status"], e["amount"], e["datanet"], e["model"], e["model_name"]) == \
        ("pending", ESCROWED, world.notes.hex(), world.model.hex(), "triage")
    assert e["attestation"] == compute_attestation_id(use, world.notes).hex()
    assert (e["scores"], e["operator"], e["algorithm"], e["challenge"]) == ([], None, None, None)
    assert e["others"] == {"contributions": 3, "weight": 1_000_000, "static": ESCROWED, "measured": ESCROWED}

    submit(world.chain, "finn", "attest", use, world.notes, b"\x0a" * 32, "span-v1",
           [[world.c["ada"], 500_000], [world.c["chidi"], 250_000]])
    answer = world.query("attestation", hash=use.hex())
    [e] = answer["escrows"]
    assert (e["status"], e["operator"], e["output_hash"], e["algorithm"]) == \
        ("attested", encode_address(ADDR["finn"]), "0a" * 32, "span-v1")
    # docs/poa.md's worked example: scored 1.14 + 0.57, the unscored 0.57 by weights
    assert [(s["contribution"], s["uri"], s["score_ppm"], s["weight"], s["static"], s["measured"]) for s in e["scores"]] == [
        (world.c["ada"].hex(), "ipfs://ada", 500_000, 600_000, 1_368_000, 1_140_000 + 342_000),
        (world.c["chidi"].hex(), "ipfs://chidi", 250_000, 100_000, 228_000, 570_000 + 57_000)]
    assert e["others"] == {"contributions": 1, "weight": 300_000, "static": 684_000, "measured": 171_000}
    assert sum(s["measured"] for s in e["scores"]) + e["others"]["measured"] == ESCROWED
    assert e["challenge_by"] == e["attested_at"] + 3
    assert proven(answer)

    for _ in range(3):
        apply_ok(world.chain)
    assert world.query("attestation", hash=use.hex())["escrows"][0]["status"] == "paid"


def test_attestation_of_a_tx_without_escrows_is_empty_and_proven_absent(world):
    answer = world.query("attestation", hash="11" * 32)
    assert (answer["escrows"], answer["truncated"]) == ([], False)
    assert proven(answer) and answer["proofs"][0]["value"] is None


def test_attributor_of_a_model(world):
    answer = world.query("attributor", id=world.model.hex())
    assert answer["attributor"] == {"operator": encode_address(ADDR["finn"]), "bond": 10 * OPEN,
                                    "payer": encode_address(ADDR["eve"])}
    assert answer["name"] == "triage" and proven(answer)
    bare = register(world.chain, "eve", "model", [(world.notes, 400_000)], name="bare")
    assert world.query("attributor", id=bare.hex())["attributor"] is None


def test_challenge_with_its_votes_and_curators(world):
    use = world.use()
    submit(world.chain, "finn", "attest", use, world.notes, b"\x0a" * 32, "span-v1", [[world.c["bao"], 900_000]])
    aid = compute_attestation_id(use, world.notes)
    assert world.query("challenge", id=aid.hex())["challenge"] is None
    submit(world.chain, "gus", "challenge", aid, 2 * OPEN)
    submit(world.chain, "dana", "resolve", aid, True)
    answer = world.query("challenge", id=aid.hex())
    assert answer["status"] == "challenged" and answer["majority"] == 2
    assert answer["curators"] == [encode_address(ADDR[n]) for n in ("dana", "bao", "chidi")]
    assert answer["challenge"] == {"challenger": encode_address(ADDR["gus"]), "bond": 2 * OPEN,
                                   "upheld_votes": [encode_address(ADDR["dana"])], "rejected_votes": []}
    assert proven(answer)
    submit(world.chain, "bao", "resolve", aid, True)
    assert world.query("challenge", id=aid.hex())["status"] == "upheld"
    assert world.query("attributor", id=world.model.hex())["attributor"] is None


@pytest.mark.parametrize("kind, params, status, code", [
    ("attestation", {"hash": "zz"}, 400, "bad_param"),
    ("attestation", {"hash": "11" * 31}, 400, "bad_param"),
    ("attributor", {"id": "22" * 32}, 404, "unknown_asset"),
    ("challenge", {"id": "33" * 32}, 404, "no_escrow"),
])
def test_bad_input_is_refused(world, kind, params, status, code):
    with pytest.raises(RpcError) as e:
        world.query(kind, **params)
    assert (e.value.status, e.value.code) == (status, code)


def test_attributor_of_a_datanet_is_refused(world):
    with pytest.raises(RpcError) as e:
        world.query("attributor", id=world.notes.hex())
    assert (e.value.status, e.value.code) == (400, "not_a_model") and "datanet" in e.value.reason
