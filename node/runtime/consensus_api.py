"""The consensus task as the other tasks see it: the inputs they send it (through a
`Submit`, the send side of its one bounded channel) and what they may read of where it
stands (`ConsensusView`), never write. Receivers, catch-up and the RPC depend on this,
not on the task itself."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

from consensus.types import Proposal, Vote
from p2p.transport import PeerId

if TYPE_CHECKING:
    from consensus.round_view import RoundView
    from state.block import Block

Submit = Callable[[Any], Awaitable[None]]  # one input into the consensus task (waits when full)


@dataclass(frozen=True)
class BlockProposal:
    """A signed proposal whose block the proposal receiver assembled (txs filled in)."""
    proposal: Proposal
    block: "Block"


@dataclass(frozen=True)
class VerifiedVote:
    """A gossiped vote that passed admission (signature, height and round windows)."""
    vote: Vote
    raw: bytes


@dataclass(frozen=True)
class SyncedBlocks:
    """Blocks (with the commit of each) fetched from `peer`, ascending, starting at our height+1."""
    peer: PeerId
    blocks: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True)
class PulledVotes:
    """Votes of one round pulled from `peer`, each verified: (vote, its bytes)."""
    peer: PeerId
    votes: tuple[tuple[Vote, bytes], ...]


@dataclass(frozen=True)
class HelpPeer:
    """`peer` is at our height in an earlier `round`: send it our messages of that round."""
    peer: PeerId
    round: int


class ConsensusView(Protocol):
    """Where the consensus task stands, as figures: only that task writes them, and no
    reader reaches its driver."""

    @property
    def height(self) -> int:
        """The height the driver is deciding: the chain's height + 1 once it started that
        height, the chain's height while a decided height waits for the next to start."""

    @property
    def current_round(self) -> int: ...

    @property
    def awaiting_block(self) -> bool:
        """A decided height waits for its block (catch-up fetches it)."""

    def round_age(self) -> float:
        """Seconds since the current round started."""

    def round_view(self) -> "RoundView | None":
        """The round's step, proposer and votes seen, a copy (/consensus_state); None
        before the first height started."""
