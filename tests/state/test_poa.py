"""Proof of Attribution per use on the ledger (state/poa.py): set_attributor, the escrow
of a use's pool part, attest, challenge, resolve, the end-of-block payout and fallback,
and every refusal of the issue with its own code. The `make` chains check the supply
invariant after every block."""
from __future__ import annotations

import pytest

from asset_helpers import ADDR, KEYS, accepted, contribute, create_datanet, holder_accrued, register
from ledger_helpers import START_BALANCE, apply_ok, assert_rejected, balance, view
from state.asset_records import get_pool
from state.devchain import seeded_key
from state.errors import Code
from state.keys import BURNED
from state.params import Params
from state.poa_records import EscrowStatus, compute_attestation_id, get_attributor, get_escrow, get_use_escrows
from state.tx import tx_id

OPEN = 1_000_000
PRICE = 10 * OPEN
ESCROWED = 2_280_000        # 10 OPEN - 5 % fee = 9.5; x 40 % to the datanet = 3.8; x 60 % pool part
KEYS = dict(KEYS, ops=seeded_key("poa/ops"), carl=seeded_key("poa/carl"), broke=seeded_key("poa/broke"))
PARAMS = Params(attestation_blocks=3, challenge_blocks=3, attributor_bond=10 * OPEN, challenge_bond=OPEN)


def address(name: str) -> bytes:
    from ledger_helpers import addr
    return addr(KEYS[name])


def send(chain, who: str, kind: str, *fields):
    raw = chain.tx(KEYS[who], kind, *fields)
    return apply_ok(chain, raw).tx_results[0], raw


def idle(chain, blocks: int) -> None:
    for _ in range(blocks):
        apply_ok(chain)


class World:
    """notes (curators dana, finn, gus) with Ada 60 %, Bao 30 %, Chidi 10 %; Eve's model
    on notes (40 %) at 10 OPEN, its attributor `ops`; a second datanet `other`."""

    def __init__(self, make, **params) -> None:
        accounts = [(k, START_BALANCE) for n, k in KEYS.items() if n != "broke"] + [(KEYS["broke"], 10_000)]
        self.chain = make(accounts=accounts, params=Params(**{**PARAMS.to_json(), **params}))
        c = self.chain
        self.notes = create_datanet(c, curators=("dana", "finn", "gus"))
        self.other = create_datanet(c, name="other")
        self.c = {n: accepted(c, n, self.notes, n, w) for n, w in (("ada", 600_000), ("bao", 300_000), ("chidi", 100_000))}
        self.foreign = accepted(c, "ada", self.other, "foreign", 1)
        self.pending = contribute(c, "uma", self.notes, "pending")
        self.model = register(c, "eve", "model", [(self.notes, 400_000)], price=PRICE)
        send(c, "eve", "set_attributor", self.model, address("ops"))

    def use(self, who: str = "uma") -> tuple[bytes, bytes]:
        """(use tx id, attestation id of notes)."""
        _, raw = send(self.chain, who, "use", self.model, PRICE)
        return tx_id(raw), compute_attestation_id(tx_id(raw), self.notes)

    def attest(self, use: bytes, scores, who: str = "ops", algorithm: str = "span-v1", datanet=None):
        return self.chain.tx(KEYS[who], "attest", use, datanet or self.notes, b"\x0a" * 32, algorithm,
                             [[c, s] for c, s in scores])

    def escrow(self, aid: bytes):
        return get_escrow(view(self.chain), aid)

    def pool_balance(self) -> int:
        return get_pool(view(self.chain), self.notes).balance


@pytest.fixture
def world(make):
    return World(make)


# --- set_attributor --------------------------------------------------------------------------------
def test_set_attributor_bonds_from_the_top_holder(world):
    c = world.chain
    a = get_attributor(view(c), world.model)
    assert (a.operator, a.bond, a.payer) == (address("ops"), 10 * OPEN, ADDR["eve"])


def test_set_attributor_again_returns_the_former_bond(world):
    c = world.chain
    before = balance(c, ADDR["eve"])
    send(c, "eve", "set_attributor", world.model, address("carl"))
    assert balance(c, ADDR["eve"]) == before - c.ledger.params.min_fee     # bond back, bond paid
    assert get_attributor(view(c), world.model).operator == address("carl")


# --- the escrow --------------------------------------------------------------------------------------
def test_use_escrows_the_pool_part_instead_of_depositing_it(world):
    pool_before = world.pool_balance()
    use, aid = world.use()
    e = world.escrow(aid)
    assert (e.amount, e.status, e.model, e.datanet) == (ESCROWED, EscrowStatus.OPEN, world.model, world.notes)
    assert e.attest_by == world.chain.ledger.height + 3
    assert world.pool_balance() == pool_before
    assert get_use_escrows(view(world.chain), use) == [aid]
    assert holder_accrued(world.chain, "dana", world.notes) == 1_520_000     # rule 3 at the datanet unchanged


def test_use_without_attributor_deposits_into_the_pool(make):
    w = World(make)
    model = register(w.chain, "eve", "model", [(w.notes, 400_000)], price=PRICE, name="plain")
    before = w.pool_balance()
    _, raw = send(w.chain, "uma", "use", model, PRICE)
    assert w.pool_balance() == before + ESCROWED
    assert get_use_escrows(view(w.chain), tx_id(raw)) == []


# --- attest and the payout -----------------------------------------------------------------------------
def test_attest_pays_scores_after_the_challenge_window(world):
    c = world.chain
    use, aid = world.use()
    apply_ok(c, world.attest(use, [(world.c["ada"], 500_000), (world.c["chidi"], 250_000)]))
    e = world.escrow(aid)
    assert (e.status, e.operator, e.challenge_by) == (EscrowStatus.ATTESTED, address("ops"), c.ledger.height + 3)
    pool_before = world.pool_balance()
    idle(c, 2)
    assert world.escrow(aid).status == EscrowStatus.ATTESTED     # still challengeable
    idle(c, 1)
    assert world.escrow(aid).status == EscrowStatus.PAID
    assert holder_accrued(c, "ada", world.c["ada"]) == 1_140_000
    assert holder_accrued(c, "chidi", world.c["chidi"]) == 570_000
    assert holder_accrued(c, "bao", world.c["bao"]) == 0
    assert world.pool_balance() == pool_before + 570_000          # the unscored rest, by weights


def test_deadline_unattested_escrow_falls_back_to_the_pool(world):
    use, aid = world.use()
    before = world.pool_balance()
    idle(world.chain, 2)
    assert world.escrow(aid).status == EscrowStatus.OPEN
    idle(world.chain, 1)
    assert world.escrow(aid).status == EscrowStatus.FALLBACK
    assert world.pool_balance() == before + ESCROWED


def test_deadline_settling_is_bounded_per_block(make):
    w = World(make, max_poa_deadlines_per_block=2)
    c = w.chain
    raws = [c.tx(KEYS[n], "use", w.model, PRICE) for n in ("uma", "bao", "chidi")]
    apply_ok(c, *raws)
    aids = [compute_attestation_id(tx_id(r), w.notes) for r in raws]
    idle(c, 3)
    assert [w.escrow(a).status for a in aids] == [EscrowStatus.FALLBACK] * 2 + [EscrowStatus.OPEN]
    idle(c, 1)
    assert [w.escrow(a).status for a in aids] == [EscrowStatus.FALLBACK] * 3


# --- challenge and resolve -------------------------------------------------------------------------------
def attested(world, scores=None):
    use, aid = world.use()
    apply_ok(world.chain, world.attest(use, scores or [(world.c["bao"], 1_000_000)]))
    return use, aid


def test_challenge_upheld_by_a_majority_slashes_the_attributor(world):
    c = world.chain
    _, aid = attested(world)
    carl = balance(c, address("carl"))
    send(c, "carl", "challenge", aid, 2 * OPEN)
    assert world.escrow(aid).status == EscrowStatus.CHALLENGED
    burned = c.state.get(BURNED)
    pool_before = world.pool_balance()
    send(c, "dana", "resolve", aid, True)
    assert world.escrow(aid).status == EscrowStatus.CHALLENGED      # 1 of 3 curators
    send(c, "finn", "resolve", aid, True)
    assert world.escrow(aid).status == EscrowStatus.UPHELD
    fee = c.ledger.params.min_fee
    assert balance(c, address("carl")) == carl - fee + 5 * OPEN      # bond back + half the 10 OPEN
    assert c.state.get(BURNED) != burned
    assert get_attributor(view(c), world.model) is None
    assert world.pool_balance() == pool_before + ESCROWED
    assert holder_accrued(c, "bao", world.c["bao"]) == 0


def test_resolve_rejected_by_a_majority_pays_the_bond_to_the_attributor(make):
    world = World(make, challenge_blocks=5)
    c = world.chain
    _, aid = attested(world)
    send(c, "carl", "challenge", aid, OPEN)
    ops = balance(c, address("ops"))
    send(c, "gus", "resolve", aid, False)
    send(c, "finn", "resolve", aid, False)
    assert world.escrow(aid).status == EscrowStatus.CHALLENGE_REJECTED
    assert balance(c, address("ops")) == ops + OPEN
    idle(c, 1)
    assert world.escrow(aid).status == EscrowStatus.CHALLENGE_REJECTED     # paid at the window's end
    idle(c, 1)
    assert world.escrow(aid).status == EscrowStatus.PAID
    assert holder_accrued(c, "bao", world.c["bao"]) == ESCROWED


def test_challenge_unresolved_at_the_window_end_is_rejected(world):
    c = world.chain
    _, aid = attested(world)
    send(c, "carl", "challenge", aid, OPEN)
    send(c, "dana", "resolve", aid, True)
    ops = balance(c, address("ops"))
    idle(c, 1)
    assert world.escrow(aid).status == EscrowStatus.PAID
    assert balance(c, address("ops")) == ops + OPEN
    assert holder_accrued(c, "bao", world.c["bao"]) == ESCROWED


# --- refusals: each with its own code, changing nothing ---------------------------------------------------
def test_invalid_attest_not_attributor(world):
    use, _ = world.use()
    assert_rejected(world.chain, world.attest(use, [(world.c["ada"], 1)], who="eve"), Code.NOT_ATTRIBUTOR)


def test_invalid_attest_after_window(world):
    use, _ = world.use()
    idle(world.chain, 3)
    assert_rejected(world.chain, world.attest(use, [(world.c["ada"], 1)]), Code.ATTESTATION_WINDOW_CLOSED)


def test_invalid_attest_twice(world):
    use, _ = attested(world)
    assert_rejected(world.chain, world.attest(use, [(world.c["ada"], 1)]), Code.ALREADY_ATTESTED)


def test_invalid_attest_no_escrow(world):
    assert_rejected(world.chain, world.attest(b"\x01" * 32, [(world.c["ada"], 1)]), Code.NO_ESCROW)


def test_invalid_attest_contribution_of_another_datanet(world):
    use, _ = world.use()
    assert_rejected(world.chain, world.attest(use, [(world.foreign, 1)]), Code.WRONG_DATANET)


def test_invalid_attest_contribution_not_accepted(world):
    use, _ = world.use()
    assert_rejected(world.chain, world.attest(use, [(world.pending, 1)]), Code.NOT_ACCEPTED)


def test_invalid_attest_not_a_contribution(world):
    use, _ = world.use()
    assert_rejected(world.chain, world.attest(use, [(world.model, 1)]), Code.UNKNOWN_ASSET)


def test_invalid_attest_scores_over_a_million(world):
    use, _ = world.use()
    raw = world.attest(use, [(world.c["ada"], 600_000), (world.c["bao"], 400_001)])
    assert_rejected(world.chain, raw, Code.SCORES_EXCEED_TOTAL, charged=False)


def test_invalid_attest_more_than_32_scores(world):
    use, _ = world.use()
    raw = world.attest(use, [(bytes([i]) * 32, 1) for i in range(33)])
    assert_rejected(world.chain, raw, Code.TOO_MANY_ITEMS, charged=False)


def test_invalid_attest_unknown_algorithm(world):
    use, _ = world.use()
    assert_rejected(world.chain, world.attest(use, [(world.c["ada"], 1)], algorithm="span-v9"),
                    Code.UNKNOWN_ALGORITHM)


def test_invalid_challenge_after_window(world):
    _, aid = attested(world)
    idle(world.chain, 3)
    assert_rejected(world.chain, world.chain.tx(KEYS["carl"], "challenge", aid, OPEN), Code.CHALLENGE_WINDOW_CLOSED)


def test_invalid_challenge_bond_too_small(world):
    _, aid = attested(world)
    assert_rejected(world.chain, world.chain.tx(KEYS["carl"], "challenge", aid, OPEN - 1),
                    Code.CHALLENGE_BOND_TOO_SMALL)


def test_invalid_challenge_without_funds_for_its_bond(world):
    _, aid = attested(world)
    assert_rejected(world.chain, world.chain.tx(KEYS["broke"], "challenge", aid, OPEN), Code.INSUFFICIENT_FUNDS)


def test_invalid_challenge_not_attested(world):
    _, aid = world.use()
    assert_rejected(world.chain, world.chain.tx(KEYS["carl"], "challenge", aid, OPEN), Code.NOT_ATTESTED)


def test_invalid_challenge_twice(world):
    _, aid = attested(world)
    send(world.chain, "carl", "challenge", aid, OPEN)
    assert_rejected(world.chain, world.chain.tx(KEYS["uma"], "challenge", aid, OPEN), Code.ALREADY_CHALLENGED)


def test_invalid_resolve_not_curator(world):
    _, aid = attested(world)
    send(world.chain, "carl", "challenge", aid, OPEN)
    assert_rejected(world.chain, world.chain.tx(KEYS["uma"], "resolve", aid, True), Code.NOT_CURATOR)


def test_invalid_resolve_twice(world):
    _, aid = attested(world)
    send(world.chain, "carl", "challenge", aid, OPEN)
    send(world.chain, "dana", "resolve", aid, True)
    assert_rejected(world.chain, world.chain.tx(KEYS["dana"], "resolve", aid, False), Code.ALREADY_VOTED)


def test_invalid_resolve_without_challenge(world):
    _, aid = attested(world)
    assert_rejected(world.chain, world.chain.tx(KEYS["dana"], "resolve", aid, True), Code.NO_CHALLENGE)


def test_invalid_resolve_after_window(world):
    _, aid = attested(world)
    send(world.chain, "carl", "challenge", aid, OPEN)
    idle(world.chain, 2)
    assert_rejected(world.chain, world.chain.tx(KEYS["dana"], "resolve", aid, True), Code.CHALLENGE_WINDOW_CLOSED)


def test_invalid_set_attributor_not_owner(world):
    assert_rejected(world.chain, world.chain.tx(KEYS["uma"], "set_attributor", world.model, address("uma")),
                    Code.NOT_OWNER)


def test_invalid_set_attributor_not_a_model(world):
    assert_rejected(world.chain, world.chain.tx(KEYS["dana"], "set_attributor", world.notes, address("ops")),
                    Code.WRONG_ASSET_KIND)
