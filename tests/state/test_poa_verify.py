"""`poa verify`'s logic (node/poa/verify.py) against a real chain: an honest attestation
matches, a skewed one is a mismatch, an unattested escrow and a different output say so."""
from __future__ import annotations

import hashlib

import trio

from asset_helpers import KEYS, ADDR, cast_chain, register, review, submit
from ledger_helpers import apply_ok
from node.poa import span_v1
from node.poa.chain import read_accepted_contributions
from node.poa.index import build_index, match_files
from node.poa.verify import verify_use
from state.asset_records import compute_asset_id, compute_contribution_id
from state.params import Params
from state.tx import tx_id

TEXTS = {
    "ada": b"Fever above 39 C with a purpuric rash in a child under five needs same day review for meningococcal disease.",
    "bao": b"Chronic cough for more than eight weeks in a non smoker suggests asthma, reflux or post nasal drip first.",
    "chidi": b"Sudden painless vision loss in one eye of an older adult warrants urgent ophthalmology referral within hours.",
}
OUTPUT = (b"Triage: fever above 39 C with a purpuric rash in a child under five needs same day review. "
          b"Also, sudden painless vision loss in one eye of an older adult warrants urgent referral.")


def setup(make, tmp_path):
    chain = cast_chain(make, params=Params(attestation_blocks=5, challenge_blocks=5))
    _, raw = submit(chain, "dana", "create_datanet", "notes", "", 600_000, 0, [ADDR["dana"]])
    notes = compute_asset_id(tx_id(raw))
    for who, text in TEXTS.items():
        submit(chain, who, "contribute", notes, hashlib.sha256(text).digest(), len(text), "")
        review(chain, "dana", compute_contribution_id(notes, hashlib.sha256(text).digest()), True, 100_000)
        (tmp_path / f"{who}.txt").write_bytes(text)
    model = register(chain, "eve", "model", [(notes, 500_000)], price=1_000_000)
    submit(chain, "eve", "set_attributor", model, ADDR["finn"])
    _, raw = submit(chain, "uma", "use", model, 1_000_000)
    return chain, notes, tx_id(raw)


def honest_scores(chain, notes, tmp_path):
    async def read(key):
        return chain.ledger.store.get(key)
    accepted = trio.run(read_accepted_contributions, read, notes)
    documents, _ = match_files(tmp_path, accepted)
    return span_v1.score(OUTPUT, build_index(notes, documents))


def verify(chain, use, tmp_path, output=OUTPUT):
    async def read(key, height):
        store = chain.ledger.store
        return store.get(key) if height is None else store.get_at(key, height)
    return trio.run(verify_use, read, use, output, tmp_path)


def attest(chain, use, notes, scores):
    apply_ok(chain, chain.tx(KEYS["finn"], "attest", use, notes, hashlib.sha256(OUTPUT).digest(), "span-v1",
                             [[c, s] for c, s in scores]))


def test_verify_honest_attestation_matches(make, tmp_path):
    chain, notes, use = setup(make, tmp_path)
    scores = honest_scores(chain, notes, tmp_path)
    ada = compute_contribution_id(notes, hashlib.sha256(TEXTS["ada"]).digest())
    chidi = compute_contribution_id(notes, hashlib.sha256(TEXTS["chidi"]).digest())
    assert {c for c, _ in scores} == {ada, chidi}          # Bao is not quoted
    attest(chain, use, notes, scores)
    [f] = verify(chain, use, tmp_path)
    assert (f.status, f.recomputed, f.missing_files) == ("match", scores, 0)


def test_verify_skewed_attestation_is_a_mismatch(make, tmp_path):
    chain, notes, use = setup(make, tmp_path)
    bao = compute_contribution_id(notes, hashlib.sha256(TEXTS["bao"]).digest())
    attest(chain, use, notes, [(bao, 1_000_000)])
    [f] = verify(chain, use, tmp_path)
    assert f.status == "mismatch"
    assert f.attested == [(bao, 1_000_000)] and f.recomputed == honest_scores(chain, notes, tmp_path)


def test_verify_reports_unattested_and_other_outputs(make, tmp_path):
    chain, notes, use = setup(make, tmp_path)
    assert [f.status for f in verify(chain, use, tmp_path)] == ["not_attested"]
    attest(chain, use, notes, honest_scores(chain, notes, tmp_path))
    assert [f.status for f in verify(chain, use, tmp_path, output=b"another answer")] == ["wrong_output"]
