"""Test-only fault switches: make a real node misbehave or die on purpose, so tests can
watch the rest of the network punish it, or watch it recover. Off unless the environment
variable names a fault; a production node never sets it.

    ATTRCHAIN_TEST_FAULT=double_sign:<height>
    ATTRCHAIN_TEST_FAULT=crash:<point>:<height>

`double_sign:<h>`: from height h on, every prevote this validator broadcasts is followed by
a second, conflicting prevote of the same height and round (nil if the first named a
value, else a made-up value id). The conflicting vote is signed with the raw key,
bypassing the Signer (whose whole job is to refuse exactly this), and published on the
vote topic like any vote, so honest nodes' vote keepers see an equivocation.

`crash:<point>:<h>`: the process SIGKILLs itself the first time it reaches `point` at a
height >= h (no cleanup, no flush beyond what already reached the OS: a real crash at
the worst instant). Points, in the order a height passes them:
- `proposal_signed`: the signer has saved our proposal; it is neither in the WAL nor sent
  (node/runtime/durable.py `FileLastSignStore.save`).
- `seen_commit`: the seen commit of the decided height is written; its block is not stored.
- `block_stored`: the block is in the store; the WAL still holds its height.
"""
from __future__ import annotations

import hashlib
import os
import signal
from dataclasses import dataclass

from consensus.types import Vote, VoteType

ENV = "ATTRCHAIN_TEST_FAULT"
CRASH_POINTS = ("proposal_signed", "seen_commit", "block_stored")


@dataclass(frozen=True)
class Faults:
    double_sign_from: int | None = None
    crash_point: str | None = None
    crash_from: int = 0

    @property
    def any(self) -> bool:
        return self.double_sign_from is not None


def parse(text: str | None) -> Faults:
    """`double_sign:<height>` or `crash:<point>:<height>` -> Faults; empty/None -> no
    fault. Raises ValueError on junk (a typo must not silently run an honest node in a
    test that expects a faulty one)."""
    if not text:
        return Faults()
    name, _, arg = text.partition(":")
    if name == "double_sign" and arg.isdigit() and int(arg) >= 1:
        return Faults(double_sign_from=int(arg))
    point, _, height = arg.partition(":")
    if name == "crash" and point in CRASH_POINTS and height.isdigit() and int(height) >= 1:
        return Faults(crash_point=point, crash_from=int(height))
    raise ValueError(f"{ENV}: unknown fault {text!r} (known: double_sign:<height>, "
                     f"crash:<{'|'.join(CRASH_POINTS)}>:<height>)")


FAULTS = parse(os.environ.get(ENV))


def crash_point(point: str, height: int, faults: Faults | None = None) -> None:
    """SIGKILL this process if the fault switch names `point` at `height` (or earlier)."""
    f = FAULTS if faults is None else faults
    if f.crash_point == point and height >= f.crash_from:
        os.kill(os.getpid(), signal.SIGKILL)


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
