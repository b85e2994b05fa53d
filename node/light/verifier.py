"""Header verification, pure (no I/O, no clock: `now_ms` is an input), after CometBFT's
light/verifier.go.

* `verify_light_block`: a light block is consistent on its own -- our chain, the commit
  is for this very header, the set is the one the header names, and more than 2/3 of
  that set's power signed.
* `verify_adjacent` (height H -> H+1): additionally, the new header's set is the one the
  trusted header announced (`next_validators_hash`) and it links to the trusted block.
* `verify_non_adjacent` (skipping, H -> H+k): additionally, validators of the TRUSTED
  set holding more than `trust_level` (default 1/3) of its power signed the new header.
  With at most 1/3 of the trusted set faulty, at least one honest validator vouches for
  it. If that fails with `NotEnoughTrust`, the client bisects (client.py).

The order of the checks decides which reason a refusal names: chain first, then
the header's own commit, then its link to what we trust.
"""
from __future__ import annotations

from fractions import Fraction

from consensus.crypto import verify_signature
from consensus.types import Commit, InvalidCommit, ValidatorSet, Vote, VoteType
from node.light.errors import VerificationError
from node.light.types import DEFAULT_TRUST_LEVEL, LightBlock


class NotEnoughTrust(VerificationError):
    """Too little of the trusted set signed the new header to skip to it (CometBFT's
    ErrNewValSetCantBeTrusted): not a lie, the client must verify a header in between."""


def verify_light_block(lb: LightBlock, chain_id: str) -> None:
    """Raise VerificationError unless `lb` holds together on its own."""
    h, c = lb.header, lb.commit
    if h.chain_id != chain_id:
        raise VerificationError("wrong_chain",
                                f"header {h.height} is of chain {h.chain_id!r}, not {chain_id!r}")
    if c.height != h.height:
        raise VerificationError("commit_mismatch",
                                f"commit is for height {c.height}, header is {h.height}")
    if c.value_id != h.id():
        raise VerificationError("commit_mismatch",
                                f"commit at height {h.height} is for block {c.value_id.hex()[:16]}, "
                                f"not for this header ({h.id().hex()[:16]})")
    if lb.validators.hash() != h.validators_hash:
        raise VerificationError("validators_mismatch",
                                f"validator set served for height {h.height} is not the one "
                                "its header names (validators_hash)")
    try:
        lb.validators.verify_commit(chain_id, c)
    except InvalidCommit as e:
        raise VerificationError(e.code, f"commit of height {h.height}: {e.reason}") from None


def check_trusted_fresh(trusted: LightBlock, now_ms: int, trusting_period_ms: int) -> None:
    """A trusted header older than the trusting period may be signed by validators
    that have since unbonded: nothing they sign can be trusted any more."""
    if trusted.time_ms + trusting_period_ms <= now_ms:
        raise VerificationError("trusted_header_expired",
                                f"trusted header {trusted.height} is older than the trusting "
                                f"period ({trusting_period_ms} ms); re-initialise with a recent one")


def _check_order(trusted: LightBlock, untrusted: LightBlock, now_ms: int,
                 trusting_period_ms: int, max_clock_drift_ms: int) -> None:
    check_trusted_fresh(trusted, now_ms, trusting_period_ms)
    if untrusted.height <= trusted.height:
        raise VerificationError("height_not_increasing",
                                f"header {untrusted.height} is not above trusted {trusted.height}")
    if untrusted.time_ms <= trusted.time_ms:
        raise VerificationError("time_not_increasing",
                                f"header {untrusted.height} time {untrusted.time_ms} is not after "
                                f"trusted header {trusted.height} time {trusted.time_ms}")
    if untrusted.time_ms > now_ms + max_clock_drift_ms:
        raise VerificationError("header_from_future",
                                f"header {untrusted.height} time {untrusted.time_ms} is ahead of "
                                f"now {now_ms} by more than {max_clock_drift_ms} ms")


def verify_adjacent(trusted: LightBlock, untrusted: LightBlock, chain_id: str, *, now_ms: int,
                    trusting_period_ms: int, max_clock_drift_ms: int) -> None:
    if untrusted.height != trusted.height + 1:
        raise ValueError("verify_adjacent needs consecutive heights")
    verify_light_block(untrusted, chain_id)
    _check_order(trusted, untrusted, now_ms, trusting_period_ms, max_clock_drift_ms)
    if untrusted.header.validators_hash != trusted.header.next_validators_hash:
        raise VerificationError("next_validators_mismatch",
                                f"header {untrusted.height} is signed by a set other than the one "
                                f"trusted header {trusted.height} announced")
    if untrusted.header.last_block_id != trusted.id():
        raise VerificationError("broken_chain",
                                f"header {untrusted.height} does not link to trusted block "
                                f"{trusted.height} (last_block_id)")


def verify_non_adjacent(trusted: LightBlock, untrusted: LightBlock, chain_id: str, *, now_ms: int,
                        trusting_period_ms: int, max_clock_drift_ms: int,
                        trust_level: Fraction = DEFAULT_TRUST_LEVEL) -> None:
    if untrusted.height == trusted.height + 1:
        raise ValueError("use verify_adjacent for consecutive heights")
    verify_light_block(untrusted, chain_id)
    _check_order(trusted, untrusted, now_ms, trusting_period_ms, max_clock_drift_ms)
    verify_commit_trusting(trusted.validators, chain_id, untrusted.commit, trust_level)


def verify(trusted: LightBlock, untrusted: LightBlock, chain_id: str, *, now_ms: int,
           trusting_period_ms: int, max_clock_drift_ms: int,
           trust_level: Fraction = DEFAULT_TRUST_LEVEL) -> None:
    """Adjacent or skipping, whichever the heights call for."""
    kw = dict(now_ms=now_ms, trusting_period_ms=trusting_period_ms,
              max_clock_drift_ms=max_clock_drift_ms)
    if untrusted.height == trusted.height + 1:
        verify_adjacent(trusted, untrusted, chain_id, **kw)
    else:
        verify_non_adjacent(trusted, untrusted, chain_id, trust_level=trust_level, **kw)


def verify_commit_trusting(trusted: ValidatorSet, chain_id: str, commit: Commit,
                           trust_level: Fraction = DEFAULT_TRUST_LEVEL) -> int:
    """CometBFT's VerifyCommitLightTrusting: the validators of `trusted` that signed
    `commit` must hold more than `trust_level` of its total power. Signers unknown to the
    trusted set are ignored (the set may have changed). Returns the power that signed."""
    power = 0
    seen: set[bytes] = set()
    for cs in commit.signatures:
        v = trusted.get(cs.validator)
        if v is None:
            continue
        if cs.validator in seen:
            raise VerificationError("duplicate_signature", f"{cs.validator.hex()} signs twice")
        seen.add(cs.validator)
        vote = Vote(VoteType.PRECOMMIT, commit.height, commit.round, commit.value_id, cs.validator)
        if not verify_signature(v.pub_key, vote.sign_bytes(chain_id), cs.signature):
            raise VerificationError("bad_signature",
                                    f"invalid precommit signature of {cs.validator.hex()} "
                                    f"at height {commit.height}")
        power += v.voting_power
    if power * trust_level.denominator <= trusted.total_power * trust_level.numerator:
        raise NotEnoughTrust("not_enough_trust",
                             f"trusted validators holding {power} of {trusted.total_power} power "
                             f"signed height {commit.height}; more than {trust_level} is needed")
    return power
