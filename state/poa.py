"""Proof of Attribution per use: the transactions and the end-of-block settling
(LEDGER.md "Proof of Attribution per use"; docs/poa.md "On chain").

    set_attributor(model, operator)       by the model's top holder, who pays attributor_bond
    attest(use, datanet, output_hash, algorithm, scores)    by the attributor, by attest_by
    challenge(attestation, bond)          anyone, bond >= challenge_bond, by challenge_by
    resolve(attestation, upheld)          a curator of the datanet; a majority decides

A use whose payment passes an attributed model escrows, per datanet reached through it,
what rule 2 would have put into that datanet's pool (state/attribution.py opens the
escrows through state/poa_records.process_open_escrows). At the end of a block the due
escrows are settled: unattested ones go to the pool by weights; attested ones whose
challenge window ended pay each named contribution `amount * score // 1e6` (as any
revenue that arrives at the contribution) and the rest to the pool. At most
`max_poa_deadlines_per_block` queue entries are settled per block; the rest wait for the
next block, while the windows themselves close at their heights (txs after them are
refused whether or not the escrow was settled yet).
"""
from __future__ import annotations

from state.accounts import decrease_balance, increase_balance
from state.asset_records import AssetKind, Status, get_asset, get_pool, get_require_asset
from state.attribution import Payout
from state.context import Context
from state.errors import Code, TxError
from state.keys import u64
from state.poa_records import (
    DEADLINES,
    KNOWN_ALGORITHMS,
    QUEUE,
    Attributor,
    Escrow,
    EscrowStatus,
    compute_attestation_id,
    get_attributor,
    get_escrow,
    process_enqueue,
    set_attributor,
    set_escrow,
)
from state.revenue import get_top_holder
from state.staking import add_burned
from state.tx import PPM, SignedTx


# --- settling an escrow ------------------------------------------------------------------------------
def process_pay_pool(ctx: Context, datanet: bytes, amount: int) -> None:
    """Rule 2's destination: the datanet's pool, by accepted weights (the escrow was opened
    only when the pool had accepted weight, and accepted weight never leaves a pool)."""
    if amount:
        payout = Payout(ctx)
        pool = payout.pools[datanet] = get_pool(ctx, datanet)
        payout.add_to_pool(datanet, pool, amount, ())
        payout.apply()


def process_pay_scores(ctx: Context, aid: bytes, e: Escrow) -> None:
    """The attestation stands: each named contribution gets its score's part, as revenue
    arriving at that contribution; the rest goes to the pool."""
    payout = Payout(ctx)
    paid = 0
    for contribution, score in e.scores:
        part = e.amount * score // PPM
        if part:
            payout.distribute(contribution, part)
            paid += part
    payout.apply()
    rest = e.amount - paid
    process_pay_pool(ctx, e.datanet, rest)
    e.status = EscrowStatus.PAID
    set_escrow(ctx, aid, e)
    ctx.emit("attribution_paid", aid, paid, rest)


def process_fallback(ctx: Context, aid: bytes, e: Escrow, status: EscrowStatus) -> None:
    process_pay_pool(ctx, e.datanet, e.amount)
    e.status = status
    set_escrow(ctx, aid, e)
    ctx.emit("attribution_fallback", aid, e.amount)


def process_reject_challenge(ctx: Context, aid: bytes, e: Escrow) -> None:
    """The challenge failed (curators' majority, or unresolved at challenge_by): its bond
    goes to the attributor that attested."""
    increase_balance(ctx, e.operator, e.bond)
    e.status = EscrowStatus.CHALLENGE_REJECTED
    set_escrow(ctx, aid, e)
    ctx.emit("challenge_rejected", aid, e.bond)


def process_uphold_challenge(ctx: Context, aid: bytes, e: Escrow) -> None:
    """The attestation was wrong: the challenger gets its bond back and half the
    attributor's bond, the other half is burned; the attributor is removed; the escrow
    goes to the pool by weights."""
    increase_balance(ctx, e.challenger, e.bond)
    a = get_attributor(ctx, e.model)
    slashed = 0
    if a is not None and a.operator == e.operator:
        slashed = a.bond
        reward = slashed // 2
        increase_balance(ctx, e.challenger, reward)
        add_burned(ctx, slashed - reward)
        set_attributor(ctx, e.model, None)
    ctx.emit("attributor_slashed", e.model, e.operator, slashed)
    process_fallback(ctx, aid, e, EscrowStatus.UPHELD)


def process_deadline(ctx: Context, aid: bytes) -> None:
    """One queue entry: settle the escrow if its window has ended (entries of windows that
    moved on, e.g. the attest deadline of an attested escrow, do nothing)."""
    e = get_escrow(ctx, aid)
    h = ctx.height
    if e is None:
        return
    if e.status == EscrowStatus.OPEN and h >= e.attest_by:
        process_fallback(ctx, aid, e, EscrowStatus.FALLBACK)
    elif e.status in (EscrowStatus.ATTESTED, EscrowStatus.CHALLENGED, EscrowStatus.CHALLENGE_REJECTED) \
            and e.challenge_by and h >= e.challenge_by:
        if e.status == EscrowStatus.CHALLENGED:
            process_reject_challenge(ctx, aid, e)
        process_pay_scores(ctx, aid, e)


def process_deadlines(ctx: Context) -> None:
    """End of block: settle due escrows in queue order, at most max_poa_deadlines_per_block
    entries (and as many empty heights) per block."""
    q = ctx.get_record(QUEUE)
    if q is None:
        return
    height, index, pending = q
    budget = ctx.params.max_poa_deadlines_per_block
    while budget > 0 and pending > 0 and height <= ctx.height:
        key = DEADLINES + u64(height)
        items = ctx.get_record(key) or []
        while index < len(items) and budget > 0:
            process_deadline(ctx, items[index])
            index += 1
            pending -= 1
            budget -= 1
        if index >= len(items):
            if items:
                ctx.delete(key)
            else:
                budget -= 1
            height, index = height + 1, 0
    if pending:
        ctx.put_record(QUEUE, [height, index, pending])
    else:
        ctx.delete(QUEUE)


# --- transactions ------------------------------------------------------------------------------------------
def process_set_attributor(ctx: Context, tx: SignedTx) -> None:
    """set_attributor(model, operator): the model's top holder names the operator whose
    attestations will settle its uses, and pays attributor_bond (a former attributor's
    bond returns to whoever paid it)."""
    a = tx.args
    rec = get_require_asset(ctx, a.model)
    # Verify the asset is a model
    if rec.kind != AssetKind.MODEL:
        raise TxError(Code.WRONG_ASSET_KIND, "only a model has an attributor")
    # Verify the sender controls the model (its top holder)
    if get_top_holder(ctx, a.model) != tx.sender:
        raise TxError(Code.NOT_OWNER, "only the model's top share holder may set its attributor")
    bond = ctx.params.attributor_bond
    old = get_attributor(ctx, a.model)
    if old is not None:
        increase_balance(ctx, old.payer, old.bond)
    # Verify the sender can pay the bond (decrease_balance raises INSUFFICIENT_FUNDS)
    decrease_balance(ctx, tx.sender, bond)
    set_attributor(ctx, a.model, Attributor(a.operator, bond, tx.sender))
    ctx.emit("attributor", a.model, a.operator, bond)


def get_require_escrow(ctx: Context, aid: bytes) -> Escrow:
    e = get_escrow(ctx, aid)
    if e is None:
        raise TxError(Code.NO_ESCROW, f"no escrow {aid.hex()} (no attributed use reached that datanet)")
    return e


def process_attest(ctx: Context, tx: SignedTx) -> None:
    """attest(use, datanet, output_hash, algorithm, scores): the attributor's measurement."""
    a = tx.args
    aid = compute_attestation_id(a.use, a.datanet)
    e = get_require_escrow(ctx, aid)
    attributor = get_attributor(ctx, e.model)
    # Verify the sender is the model's attributor
    if attributor is None or attributor.operator != tx.sender:
        raise TxError(Code.NOT_ATTRIBUTOR, "the sender is not the attributor of the model used")
    # Verify this escrow has not been attested
    if e.status not in (EscrowStatus.OPEN, EscrowStatus.FALLBACK):
        raise TxError(Code.ALREADY_ATTESTED, "this use was already attested for this datanet")
    # Verify the attestation window is open
    if ctx.height > e.attest_by:
        raise TxError(Code.ATTESTATION_WINDOW_CLOSED, f"the window closed at height {e.attest_by}")
    # Verify the scorer is one the ledger knows
    if a.algorithm not in KNOWN_ALGORITHMS:
        raise TxError(Code.UNKNOWN_ALGORITHM, f"unknown algorithm {a.algorithm!r}; known: "
                                              f"{', '.join(sorted(KNOWN_ALGORITHMS))}")
    for contribution, _ in a.scores:
        rec = get_asset(ctx, contribution)
        # Verify each named asset is a contribution of this datanet, accepted
        if rec is None or rec.kind != AssetKind.CONTRIBUTION:
            raise TxError(Code.UNKNOWN_ASSET, f"{contribution.hex()} is not a contribution")
        if rec.datanet != e.datanet:
            raise TxError(Code.WRONG_DATANET, f"contribution {contribution.hex()} is of another datanet")
        if rec.status != Status.ACCEPTED:
            raise TxError(Code.NOT_ACCEPTED, f"contribution {contribution.hex()} is not accepted")
    e.status = EscrowStatus.ATTESTED
    e.operator = tx.sender
    e.output_hash = a.output_hash
    e.algorithm = a.algorithm
    e.scores = [[c, s] for c, s in a.scores]
    e.attested_at = ctx.height
    e.challenge_by = ctx.height + ctx.params.challenge_blocks
    set_escrow(ctx, aid, e)
    process_enqueue(ctx, e.challenge_by, aid)
    ctx.emit("attest", aid, a.use, a.datanet, len(a.scores))


def process_challenge(ctx: Context, tx: SignedTx) -> None:
    """challenge(attestation, bond): dispute an attestation before its window closes."""
    a = tx.args
    e = get_require_escrow(ctx, a.attestation)
    # Verify there is an attestation to challenge
    if e.status in (EscrowStatus.OPEN, EscrowStatus.FALLBACK):
        raise TxError(Code.NOT_ATTESTED, "this escrow was never attested")
    # Verify the challenge window is open
    if ctx.height > e.challenge_by or e.status == EscrowStatus.PAID:
        raise TxError(Code.CHALLENGE_WINDOW_CLOSED, f"the challenge window closed at height {e.challenge_by}")
    # Verify it was not challenged already (one challenge per attestation)
    if e.status != EscrowStatus.ATTESTED:
        raise TxError(Code.ALREADY_CHALLENGED, "this attestation was already challenged")
    # Verify the bond
    if a.bond < ctx.params.challenge_bond:
        raise TxError(Code.CHALLENGE_BOND_TOO_SMALL, f"a challenge bonds at least {ctx.params.challenge_bond}")
    decrease_balance(ctx, tx.sender, a.bond)
    e.status = EscrowStatus.CHALLENGED
    e.challenger = tx.sender
    e.bond = a.bond
    set_escrow(ctx, a.attestation, e)
    ctx.emit("challenge", a.attestation, tx.sender, a.bond)


def process_resolve(ctx: Context, tx: SignedTx) -> None:
    """resolve(attestation, upheld): a curator's vote; a majority of the datanet's curators
    decides at once (upheld: slash and fall back; rejected: the bond to the attributor)."""
    a = tx.args
    e = get_require_escrow(ctx, a.attestation)
    curators = get_require_asset(ctx, e.datanet).curators
    # Verify the sender curates the datanet
    if tx.sender not in curators:
        raise TxError(Code.NOT_CURATOR, "the sender is not a curator of this datanet")
    # Verify the sender has not voted on this challenge
    if tx.sender in e.upheld_votes or tx.sender in e.rejected_votes:
        raise TxError(Code.ALREADY_VOTED, "this curator already voted on this challenge")
    # Verify the window is open (an attested escrow's; a never-attested one has none)
    if e.challenge_by and ctx.height > e.challenge_by:
        raise TxError(Code.CHALLENGE_WINDOW_CLOSED, f"the challenge window closed at height {e.challenge_by}")
    # Verify a challenge awaits a decision
    if e.status != EscrowStatus.CHALLENGED:
        raise TxError(Code.NO_CHALLENGE, "no open challenge on this attestation")
    (e.upheld_votes if a.upheld else e.rejected_votes).append(tx.sender)
    majority = len(curators) // 2 + 1
    ctx.emit("resolve", a.attestation, tx.sender, a.upheld)
    if len(e.upheld_votes) >= majority:
        process_uphold_challenge(ctx, a.attestation, e)
    elif len(e.rejected_votes) >= majority:
        process_reject_challenge(ctx, a.attestation, e)
    else:
        set_escrow(ctx, a.attestation, e)


PROCESSORS = {
    "set_attributor": process_set_attributor,
    "attest": process_attest,
    "challenge": process_challenge,
    "resolve": process_resolve,
}
