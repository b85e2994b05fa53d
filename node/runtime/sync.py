"""Catching up from peers (what they answer: node/runtime/sync_serve.py).

`CatchUp.run`: at start, when a peer connects, a proposal shows peers ahead, or our
height has not moved for 2 intervals, ask peers for their status; if one is ahead, fetch
blocks with commits in ranges and send them as one `SyncedBlocks` input into the
consensus task, which verifies every commit against the validator set before executing.
If a peer is at our height but a later round, pull that round's votes so the round-skip
rule can move us there (votes lost while we were down are not gossiped again).
`CatchUp.run_vote_pull`: the same pull for our own round when it makes no progress.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import trio

from consensus.types import Vote
from node.runtime.admission import Admission
from node.runtime.chain import Chain
from node.runtime.consensus_api import ConsensusView, PulledVotes, Submit, SyncedBlocks
from node.logs import get_logger, log_event
from p2p.ids import ChainTopics
from p2p.messages import (
    MAX_BLOCKS_PER_REQUEST, BlocksRequest, BlocksResponse, MessageError, Status, StatusRequest,
    VotesRequest, VotesResponse,
)
from p2p.transport import IGNORE, PeerId, RequestError, Transport

log = get_logger("attrchain.sync")

# A round holds a prevote and a precommit per validator; twice that leaves room for an
# equivocator's twins, which honest peers cache too. A pulled answer with more is spam.
MAX_VOTES_PER_VALIDATOR = 4


class CatchupWanted:
    """Tells catch-up to ask peers now rather than at its next poll: a peer connected, a
    proposal from past our next height, a height decided without its block."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """Wait until set or `timeout` s passed; whether it was set (and unset it)."""
        with trio.move_on_after(timeout):
            await self._event.wait()
        wanted = self._event.is_set()
        self._event = trio.Event()
        return wanted


def verified_votes(chain: Chain, admission: Admission, transport: Transport, peer: PeerId,
                   votes: tuple[bytes, ...], height: int, *, rounds: int,
                   round: int | None = None) -> list[tuple[Vote, bytes]]:
    """The votes of `height` (and `round`, if given) a peer sent us (pulled or pushed), each
    checked by the vote admission outside the consensus task. More than `rounds` rounds can
    hold, or one vote that is invalid or of another height or round, drops them all and
    penalises the peer; votes our height or round moved past are left out (nobody's fault)."""
    valset = chain.validator_set(height)
    if not votes or valset is None:
        return []
    if len(votes) > MAX_VOTES_PER_VALIDATOR * rounds * len(valset):
        transport.penalise(peer, "too_many_votes")
        return []
    verified = []
    for vote_bytes in votes:
        v, verdict = admission.vote_verdict(vote_bytes)
        if v is None and verdict == IGNORE:
            continue  # our height or round moved on meanwhile
        if v is None or v.height != height or (round is not None and v.round != round):
            transport.penalise(peer, verdict or "invalid")
            return []
        verified.append((v, vote_bytes))
    return verified


@dataclass
class CatchUp:
    transport: Transport
    topics: ChainTopics
    chain: Chain
    consensus: ConsensusView        # its round, and whether it waits for a decided block
    admission: Admission            # the round window and the votes' checks
    submit: Submit                  # into the consensus task
    peer_heights: dict[PeerId, int]  # what peers told us (read by the RPC)
    wanted: CatchupWanted

    async def fetch_status(self, peer: PeerId) -> Status | None:
        try:
            raw = await self.transport.request(peer, self.topics.protocol("status"),
                                               StatusRequest().encode(), timeout=2.0)
            return Status.decode(raw, max_size=256)
        except (RequestError, MessageError, ValueError) as e:
            log_event(log, logging.DEBUG, "status_request_failed", peer=peer, error=str(e))
            return None

    async def fetch_blocks(self, peer: PeerId, start: int, end: int) -> list[tuple[bytes, bytes]]:
        try:
            raw = await self.transport.request(peer, self.topics.protocol("blocks"),
                                               BlocksRequest(start, end).encode(), timeout=10.0)
            return list(BlocksResponse.decode(raw, max_size=len(raw)).blocks)
        except (RequestError, MessageError, ValueError) as e:
            log_event(log, logging.INFO, "blocks_request_failed", peer=peer, error=str(e))
            return []

    async def run(self, interval: float = 1.0, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        chain, consensus = self.chain, self.consensus
        seen_height, progress_at = chain.height, trio.current_time()
        self.wanted.set()  # at start: a restarted node is behind by what it missed
        while True:
            wanted = await self.wanted.wait(interval)
            # Ask every peer its status only when told to (start, a peer connected, a proposal
            # from ahead, more blocks to fetch) or when our height has not moved for 2
            # intervals: polling a live network every second was a sixth of an idle node's CPU.
            if chain.height != seen_height:
                seen_height, progress_at = chain.height, trio.current_time()
            if not wanted and trio.current_time() - progress_at < 2 * interval:
                continue
            for peer in self.transport.peers():
                st = await self.fetch_status(peer)
                if st is None:
                    continue
                self.peer_heights[peer] = st.height
                ours = chain.height
                # a peer one block ahead is normal (it committed first); fetch only when we
                # are clearly behind, stuck (decided without the block, or a stale round), or
                # told we are behind (start, a peer connected, a proposal past our next height)
                stuck = consensus.awaiting_block or consensus.round_age() > 1.0 or wanted
                if st.earliest_height > ours + 1:
                    continue  # it pruned the blocks we need (docs/operating.md: state sync)
                if st.height > ours + 1 or (st.height > ours and stuck):
                    end = min(st.height, ours + MAX_BLOCKS_PER_REQUEST)
                    got = await self.fetch_blocks(peer, ours + 1, end)
                    if got:
                        log_event(log, logging.INFO, "catchup_fetched", peer=peer, from_height=ours + 1,
                                  count=len(got), peer_height=st.height)
                        await self.submit(SyncedBlocks(peer, tuple(got)))
                        self.wanted.set()  # more to fetch: go again at once
                    break
                if st.height == ours and consensus.current_round < st.round <= self.admission.max_round(ours + 1):
                    await self.pull_votes(peer, ours + 1, st.round)

    async def pull_votes(self, peer: PeerId, height: int, round: int) -> None:
        """Ask `peer` for the votes of (height, round); verify them here, not in the consensus
        task. An answer with more votes than the round can hold, or with one vote that is not
        of that round or not validly signed, is dropped whole and penalises the peer."""
        try:
            raw = await self.transport.request(peer, self.topics.protocol("votes-of-round"),
                                               VotesRequest(height, round).encode(), timeout=2.0)
            votes = VotesResponse.decode(raw, max_size=len(raw)).votes
        except MessageError as e:
            self.transport.penalise(peer, e.code)
            return
        except (RequestError, ValueError):
            return
        verified = verified_votes(self.chain, self.admission, self.transport, peer, votes, height,
                                  rounds=1, round=round)
        if verified:
            await self.submit(PulledVotes(peer, tuple(verified)))

    async def run_vote_pull(self, interval: float = 1.0, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Periodically pull the votes of our current round: heals votes lost in gossip."""
        task_status.started()
        while True:
            await trio.sleep(interval)
            if self.consensus.round_age() < interval:
                continue  # the round is progressing; gossip is doing its job
            h, r = self.chain.height + 1, self.consensus.current_round
            if self.consensus.height < h:
                continue  # decided, in the commit timeout: no round of h to heal yet
            for peer in self.transport.peers():
                await self.pull_votes(peer, h, r)
