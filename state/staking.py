"""Staking: validators, bonds, unbonding, fees to signers, slashing and jailing.

A validator is created by its operator account (the tx sender), which names a consensus
key and bonds OPEN from its balance. There is no delegation: `stake`/`unstake` change the
operator's own bond. Voting power = bonded // 1,000,000 (POWER_REDUCTION).

Timing (all in block heights, never the clock):
- a validator-set change decided in block H (any change of bond, jail, creation) takes
  effect at H+2: after block H the ledger computes the set that signs H+2;
- `unstake` at H moves the amount to an unbonding entry released to the balance at the
  start of block H + unbonding_blocks; until then it is still slashable for double signs
  committed while it was bonded;
- the fees of block H are paid, at the end of H, to the validators whose precommits are
  in H's last commit (the commit of H-1), pro rata by their power in the set of H-1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from state.accounts import checked_add, decrease_balance, increase_balance
from state.address import address_from_pubkey
from state.context import Context
from state.errors import Code, TxError
from state.keys import (
    BURNED,
    FEE_POOL,
    VALIDATORS,
    signing_info_key,
    unbonding_key,
    unbonding_queue_key,
    validator_by_consensus_key,
    validator_key,
)
from state.params import POWER_REDUCTION
from state.tx import PPM, SignedTx, validate_evidence_votes

NEVER = 2**63 - 1     # jailed_until of a tombstoned validator


@dataclass(slots=True)
class ValidatorRecord:
    consensus_pubkey: bytes
    bonded: int
    jailed: bool = False
    jailed_until: int = 0
    tombstoned: bool = False

    def encode(self) -> list:
        return [self.consensus_pubkey, self.bonded, self.jailed, self.jailed_until, self.tombstoned]

    @property
    def consensus_address(self) -> bytes:
        return address_from_pubkey(self.consensus_pubkey)


# --- reads ---------------------------------------------------------------------------
def compute_voting_power(bonded: int) -> int:
    return bonded // POWER_REDUCTION


def get_validator(ctx: Context, operator: bytes) -> ValidatorRecord | None:
    rec = ctx.get_record(validator_key(operator))
    return None if rec is None else ValidatorRecord(*rec)


def set_validator(ctx: Context, operator: bytes, v: ValidatorRecord) -> None:
    ctx.put_record(validator_key(operator), v.encode())


def get_operator(ctx: Context, consensus_address: bytes) -> bytes | None:
    return ctx.get(validator_by_consensus_key(consensus_address))


def get_operators(ctx: Context) -> list[bytes]:
    return ctx.get_record(VALIDATORS) or []


def get_unbonding(ctx: Context, operator: bytes) -> list[list[int]]:
    """[[release_height, amount, created_height], ...] in creation order."""
    return ctx.get_record(unbonding_key(operator)) or []


def get_counter(ctx: Context, key: bytes) -> int:
    return ctx.get_record(key) or 0


def is_active(v: ValidatorRecord) -> bool:
    """Eligible for the validator set: not jailed and at least one unit of power."""
    return not v.jailed and compute_voting_power(v.bonded) >= 1


def get_require_validator(ctx: Context, operator: bytes) -> ValidatorRecord:
    v = get_validator(ctx, operator)
    if v is None:
        raise TxError(Code.NOT_A_VALIDATOR, "sender operates no validator")
    return v


# --- transactions ----------------------------------------------------------------------
def process_create_validator(ctx: Context, tx: SignedTx) -> None:
    pubkey, amount = tx.args.consensus_pubkey, tx.args.amount
    consensus_address = address_from_pubkey(pubkey)
    # Verify the sender operates no validator yet
    if get_validator(ctx, tx.sender) is not None:
        raise TxError(Code.VALIDATOR_EXISTS, "sender already operates a validator")
    # Verify the consensus key is not used by another validator (now or ever: records stay)
    if get_operator(ctx, consensus_address) is not None:
        raise TxError(Code.CONSENSUS_KEY_IN_USE, "consensus key already belongs to a validator")
    # Verify the bond gives at least one unit of voting power
    if amount < POWER_REDUCTION:
        raise TxError(Code.BOND_TOO_SMALL, f"bond {amount} below one unit of power ({POWER_REDUCTION})")
    decrease_balance(ctx, tx.sender, amount)
    set_validator(ctx, tx.sender, ValidatorRecord(pubkey, amount))
    ctx.put(validator_by_consensus_key(consensus_address), tx.sender)
    operators = get_operators(ctx)
    operators.append(tx.sender)
    operators.sort()
    ctx.put_record(VALIDATORS, operators)


def process_stake(ctx: Context, tx: SignedTx) -> None:
    v = get_require_validator(ctx, tx.sender)
    # Verify the validator can still be part of a set
    if v.tombstoned:
        raise TxError(Code.TOMBSTONED, "validator was removed for double signing")
    decrease_balance(ctx, tx.sender, tx.args.amount)
    v.bonded = checked_add(v.bonded, tx.args.amount, "bond")
    set_validator(ctx, tx.sender, v)


def process_unstake(ctx: Context, tx: SignedTx) -> None:
    amount = tx.args.amount
    v = get_require_validator(ctx, tx.sender)
    # Verify the bond covers the amount
    if amount > v.bonded:
        raise TxError(Code.INSUFFICIENT_BOND, f"bonded {v.bonded} is less than {amount}")
    v.bonded -= amount
    set_validator(ctx, tx.sender, v)
    release = ctx.height + ctx.params.unbonding_blocks
    entries = get_unbonding(ctx, tx.sender)
    entries.append([release, amount, ctx.height])
    ctx.put_record(unbonding_key(tx.sender), entries)
    queue_key = unbonding_queue_key(release)
    queued = ctx.get_record(queue_key) or []
    if tx.sender not in queued:
        queued.append(tx.sender)
        queued.sort()
        ctx.put_record(queue_key, queued)


def process_unjail(ctx: Context, tx: SignedTx) -> None:
    v = get_require_validator(ctx, tx.sender)
    # Verify the validator was not tombstoned (double signing is forever)
    if v.tombstoned:
        raise TxError(Code.TOMBSTONED, "validator was removed for double signing")
    # Verify it is jailed and its jail time is over
    if not v.jailed:
        raise TxError(Code.NOT_JAILED, "validator is not jailed")
    if ctx.height < v.jailed_until:
        raise TxError(Code.JAIL_NOT_EXPIRED, f"jailed until height {v.jailed_until}")
    # Verify the remaining bond still gives voting power
    if compute_voting_power(v.bonded) < 1:
        raise TxError(Code.BOND_TOO_SMALL, "bond below one unit of power; stake first")
    v.jailed = False
    v.jailed_until = 0
    set_validator(ctx, tx.sender, v)


def process_evidence(ctx: Context, tx: SignedTx) -> None:
    """Anyone may submit duplicate-vote evidence in a tx (paying its fee)."""
    evidence = validate_evidence_votes(tx.args.vote_a, tx.args.vote_b)
    process_double_sign(ctx, evidence)


# --- slashing ----------------------------------------------------------------------------------
def compute_slash(amount: int, fraction_ppm: int) -> int:
    return amount * fraction_ppm // PPM


def add_burned(ctx: Context, amount: int) -> None:
    """Record `amount` uopen destroyed (already removed from its holder)."""
    if amount:
        ctx.put_record(BURNED, checked_add(get_counter(ctx, BURNED), amount, "burned"))


def slash(ctx: Context, operator: bytes, v: ValidatorRecord, fraction_ppm: int,
          infraction_height: int | None) -> int:
    """Burn `fraction_ppm` of the bond and, for an infraction at `infraction_height`, of every
    unbonding entry whose stake still counted then (created after block infraction_height-2,
    the block that decided the set of the infraction height). Returns the amount burned.
    The caller stores `v`."""
    burned = compute_slash(v.bonded, fraction_ppm)
    v.bonded -= burned
    if infraction_height is not None:
        entries = get_unbonding(ctx, operator)
        changed = False
        for e in entries:
            if e[2] > infraction_height - 2:
                cut = compute_slash(e[1], fraction_ppm)
                if cut:
                    e[1] -= cut
                    burned += cut
                    changed = True
        if changed:
            ctx.put_record(unbonding_key(operator), entries)
    add_burned(ctx, burned)
    return burned


def process_double_sign(ctx: Context, evidence) -> None:
    """Slash and tombstone the author of `evidence` (a consensus DuplicateVoteEvidence)."""
    from consensus.types import InvalidEvidence
    height = evidence.height
    # Verify the evidence is from a committed height and not older than the window
    if height >= ctx.height:
        raise TxError(Code.EVIDENCE_FROM_FUTURE, f"evidence height {height} >= block height {ctx.height}")
    if ctx.height - height > ctx.params.evidence_max_age_blocks:
        raise TxError(Code.EVIDENCE_TOO_OLD,
                      f"evidence from height {height} is older than {ctx.params.evidence_max_age_blocks} blocks")
    # Verify the offender was in the validator set of that height, and get its key there
    valset = ctx.block.valset_at(height)
    member = None if valset is None else valset.get(evidence.validator)
    if member is None:
        raise TxError(Code.UNKNOWN_VALIDATOR, f"{evidence.validator.hex()} was not a validator at height {height}")
    # Verify both votes are signed by that key for this chain
    try:
        evidence.verify(ctx.chain_id, member.pub_key)
    except InvalidEvidence as e:
        raise TxError(Code.INVALID_EVIDENCE, e.reason) from None
    operator = get_operator(ctx, evidence.validator)
    v = get_validator(ctx, operator)
    # Verify the offender was not punished already: each validator is slashed once for
    # double signing, whatever number of evidences exist (CometBFT/Cosmos tombstoning)
    if v.tombstoned:
        raise TxError(Code.TOMBSTONED, "validator already tombstoned for double signing")
    burned = slash(ctx, operator, v, ctx.params.slash_double_sign_ppm, height)
    v.jailed, v.jailed_until, v.tombstoned = True, NEVER, True
    set_validator(ctx, operator, v)
    ctx.emit("slash_double_sign", operator, burned)


# --- liveness ------------------------------------------------------------------------------------
def process_liveness(ctx: Context, commit_height: int, last_valset, signers: set[bytes]) -> None:
    """Record who signed the commit of `commit_height` and jail validators that signed fewer
    than min_signed_ppm of the last signed_blocks_window blocks.

    Per validator: [start_height, missed, bitmap]; bit (h % window) says whether height h
    was missed, so a validator that keeps signing costs no write."""
    p = ctx.params
    window = p.signed_blocks_window
    # a validator (re)joining the set starts a fresh window: bits left from an earlier
    # membership describe heights long gone
    previous = ctx.block.valset_at(commit_height - 1) if commit_height > 1 else None
    for member in last_valset:
        address = member.address
        operator = get_operator(ctx, address)
        v = get_validator(ctx, operator)
        if v is None or v.jailed:
            continue
        key = signing_info_key(address)
        info = ctx.get_record(key)
        if info is not None and previous is not None and previous.get(address) is None:
            info = None
        if info is None:
            info = [commit_height, 0, bytes((window + 7) // 8)]
            dirty = True
        else:
            dirty = False
        start, missed, bitmap = info
        index = commit_height % window
        byte, bit = divmod(index, 8)
        was_missed = bool(bitmap[byte] >> bit & 1)
        now_missed = address not in signers
        if was_missed != now_missed:
            b = bytearray(bitmap)
            b[byte] ^= 1 << bit
            bitmap = bytes(b)
            missed += 1 if now_missed else -1
            dirty = True
        counted = commit_height - start + 1
        if counted >= window and (window - missed) * PPM < window * p.min_signed_ppm:
            burned = slash(ctx, operator, v, p.slash_downtime_ppm, None)
            v.jailed = True
            v.jailed_until = ctx.height + p.downtime_jail_blocks
            set_validator(ctx, operator, v)
            ctx.delete(key)           # a fresh window starts when it is back in the set
            ctx.emit("jail_downtime", operator, burned)
        elif dirty:
            ctx.put_record(key, [start, missed, bitmap])


# --- unbonding ---------------------------------------------------------------------------------------
def process_unbonding_queue(ctx: Context) -> None:
    """Pay out every unbonding entry that matures at this height."""
    queue_key = unbonding_queue_key(ctx.height)
    operators = ctx.get_record(queue_key)
    if not operators:
        return
    for operator in operators:
        entries = get_unbonding(ctx, operator)
        keep = []
        for e in entries:
            if e[0] <= ctx.height:
                increase_balance(ctx, operator, e[1])
            else:
                keep.append(e)
        if keep:
            ctx.put_record(unbonding_key(operator), keep)
        else:
            ctx.delete(unbonding_key(operator))
    ctx.delete(queue_key)


# --- fees --------------------------------------------------------------------------------------------
def process_fee_distribution(ctx: Context, last_valset, signers: Iterable[bytes]) -> None:
    """Pay the block's collected fees plus any carried pool to the last commit's signers,
    pro rata by voting power (floor); the rounding dust goes to the signer with the most
    power (ties: smallest consensus address). With no signer (height 1) the fees wait in
    FEE_POOL for the next block."""
    total = checked_add(ctx.fees, get_counter(ctx, FEE_POOL), "fees")
    ctx.fees = 0
    signed = set(signers)
    members = [] if last_valset is None else sorted(
        (m for m in last_valset if m.address in signed), key=lambda m: m.address)
    if total == 0:
        return
    if not members:
        ctx.put_record(FEE_POOL, total)
        return
    power = sum(m.voting_power for m in members)
    paid = 0
    top = members[0]
    for m in members:
        share = total * m.voting_power // power
        if share:
            increase_balance(ctx, get_operator(ctx, m.address), share)
        paid += share
        if m.voting_power > top.voting_power:
            top = m
    if total > paid:
        increase_balance(ctx, get_operator(ctx, top.address), total - paid)
    if ctx.get(FEE_POOL) is not None:
        ctx.delete(FEE_POOL)


# --- the validator set ------------------------------------------------------------------------------
def compute_validator_powers(ctx: Context) -> dict[bytes, tuple[bytes, int]]:
    """consensus address -> (pubkey, power) of the validators eligible for the next set:
    not jailed, power >= 1, the max_validators largest by power (ties: smaller address)."""
    eligible = []
    for operator in get_operators(ctx):
        v = get_validator(ctx, operator)
        if is_active(v):
            eligible.append((-compute_voting_power(v.bonded), v.consensus_address, v.consensus_pubkey))
    eligible.sort()
    return {addr: (pub, -neg) for neg, addr, pub in eligible[:ctx.params.max_validators]}


def compute_next_validator_set(ctx: Context, next_valset):
    """The set for height H+2 from the set of H+1 and the state after block H (CometBFT:
    apply the changes to the next set, then advance its proposer priorities once). If no
    validator would remain, the set is kept: a chain cannot run without validators."""
    from consensus.types import Validator
    wanted = compute_validator_powers(ctx)
    changes = []
    for m in next_valset:
        if m.address not in wanted:
            changes.append((m.address, 0))
    for addr, (pub, power) in wanted.items():
        if next_valset.power_of(addr) != power:
            changes.append(Validator(addr, pub, power))
    if not wanted:
        return next_valset.advance()
    if changes:
        return next_valset.update(changes).advance()
    return next_valset.advance()
