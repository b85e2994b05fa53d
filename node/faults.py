"""Test-only fault switches: make a real node misbehave on purpose, so tests can watch the
rest of the network punish it. Off unless the environment variable names a fault; a
production node never sets it.

    ATTRCHAIN_TEST_FAULT=double_sign:<height>

`double_sign:<h>`: from height h on, every prevote this validator broadcasts is followed by
a second, conflicting prevote of the same height and round (nil if the first named a
value, else a made-up value id). The conflicting vote is signed with the raw key,
bypassing the Signer (whose whole job is to refuse exactly this), and published on the
vote topic like any vote, so honest nodes' vote keepers see an equivocation.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from consensus.types import Vote, VoteType

ENV = "ATTRCHAIN_TEST_FAULT"


@dataclass(frozen=True)
class Faults:
    double_sign_from: int | None = None

    @property
    def any(self) -> bool:
        return self.double_sign_from is not None


def parse(text: str | None) -> Faults:
    """`double_sign:<height>` -> Faults; empty/None -> no fault. Raises ValueError on junk
    (a typo must not silently run an honest node in a test that expects a faulty one)."""
    if not text:
        return Faults()
    name, _, arg = text.partition(":")
    if name == "double_sign" and arg.isdigit() and int(arg) >= 1:
        return Faults(double_sign_from=int(arg))
    raise ValueError(f"{ENV}: unknown fault {text!r} (known: double_sign:<height>)")


FAULTS = parse(os.environ.get(ENV))


def conflicting_vote(vote: Vote, key, chain_id: str, faults: Faults = FAULTS) -> Vote | None:
    """The equivocating twin of our own `vote` (signed with `key`, an Ed25519Key), or None
    if no fault asks for one."""
    if (faults.double_sign_from is None or vote.type != VoteType.PREVOTE
            or vote.height < faults.double_sign_from):
        return None
    other = None if vote.value_id is not None else hashlib.sha256(b"byzantine" + vote.height.to_bytes(8, "big")).digest()
    twin = Vote(vote.type, vote.height, vote.round, other, vote.validator)
    return Vote(twin.type, twin.height, twin.round, twin.value_id, twin.validator,
                key.sign(twin.sign_bytes(chain_id)))
