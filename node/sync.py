"""Request/response services: serving peers, and catching up from them.

Serving (handlers registered on the transport): status, blocks with their commits by
height range, txs by id (to rebuild compact proposals), votes of a round (lost votes).
Handlers only read; they never touch the consensus core. One more takes what a peer's
consensus executor pushes to us (`accept_push`: its re-gossip), verified here, into the
consensus task's input channel.

Catching up (`run_catchup`): at start, when a peer connects, a proposal shows peers ahead,
or our height has not moved for 2 intervals, ask peers for their status; if one is ahead,
fetch blocks with commits in ranges and send them as one `SyncedBlocks` input into the
consensus task, which verifies every commit against the validator set before executing.
If a peer is at our height but a later round, pull that round's votes so the round-skip
rule can move us there (votes lost while we were down are not gossiped again).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import trio

from consensus.types import Vote
from node.consensus_api import HelpPeer, PulledVotes, SyncedBlocks
from node.logs import get_logger, log_event
from p2p.messages import (
    MAX_BLOCKS_PER_REQUEST, BlocksRequest, BlocksResponse, ConsensusPush, MessageError, Status,
    StatusRequest,
    TxsRequest, TxsResponse, VotesRequest, VotesResponse,
)
from p2p.transport import IGNORE, PeerId, RequestError

if TYPE_CHECKING:
    from node.node import Node

log = get_logger("attrchain.sync")

MAX_RESPONSE_BYTES = 6 * 1024 * 1024
# A round holds a prevote and a precommit per validator; twice that leaves room for an
# equivocator's twins, which honest peers cache too. A pulled answer with more is spam.
MAX_VOTES_PER_VALIDATOR = 4
# A push carries the rounds of `Driver.gossip_messages`: the current and previous round,
# the valid and the locked round.
PUSHED_ROUNDS = 4


def register_handlers(node: "Node") -> None:
    t = node.transport
    ids = node.topics

    async def status(peer: PeerId, payload: bytes) -> bytes:
        StatusRequest.decode(payload, max_size=64)
        return Status(node.chain.height, node.current_round, node.chain.app_hash,
                      node.chain.earliest_block_height).encode()

    async def blocks(peer: PeerId, payload: bytes) -> bytes:
        req = BlocksRequest.decode(payload, max_size=64)
        earliest = node.chain.earliest_block_height
        if req.from_height < earliest:
            raise RequestError("pruned", f"blocks below {earliest} are pruned on this node")
        out: list[tuple[bytes, bytes]] = []
        size = 0
        for h in range(req.from_height, min(req.to_height, node.chain.height) + 1):
            block = node.chain.block_bytes(h)
            commit = node.chain.commit_bytes(h)
            if block is None or commit is None:
                break
            if out and size + len(block) + len(commit) > MAX_RESPONSE_BYTES:
                break
            out.append((block, commit))
            size += len(block) + len(commit)
        return BlocksResponse(tuple(out)).encode()

    async def txs(peer: PeerId, payload: bytes) -> bytes:
        req = TxsRequest.decode(payload, max_size=len(payload))
        found = []
        for tx_id in req.tx_ids:
            raw = node.find_tx(tx_id)
            if raw is not None:
                found.append(raw)
        return TxsResponse(tuple(found)).encode()

    async def votes(peer: PeerId, payload: bytes) -> bytes:
        req = VotesRequest.decode(payload, max_size=64)
        return VotesResponse(tuple(node.vote_cache.get(req.height, req.round))).encode()

    t.set_request_handler(ids.protocol("status"), status)
    t.set_request_handler(ids.protocol("blocks"), blocks)
    t.set_request_handler(ids.protocol("txs-by-id"), txs)
    async def pushed(peer: PeerId, payload: bytes) -> bytes:
        await accept_push(node, peer, ConsensusPush.decode(payload, max_size=len(payload)))
        return b""

    t.set_request_handler(ids.protocol("votes-of-round"), votes)
    t.set_request_handler(ids.protocol("consensus-push"), pushed)


class VoteCache:
    """Signed votes seen at recent (height, round)s, to answer VotesRequest."""

    def __init__(self, keep_heights: int = 2, max_per_round: int = 1000):
        self.by_round: dict[tuple[int, int], dict[bytes, None]] = {}
        self.keep_heights = keep_heights
        self.max_per_round = max_per_round

    def add(self, height: int, round: int, vote_bytes: bytes) -> None:
        votes = self.by_round.setdefault((height, round), {})
        if len(votes) < self.max_per_round:
            votes[vote_bytes] = None

    def get(self, height: int, round: int) -> list[bytes]:
        return list(self.by_round.get((height, round), {}))

    def prune(self, committed_height: int) -> None:
        for key in [k for k in self.by_round if k[0] <= committed_height - self.keep_heights + 1]:
            del self.by_round[key]


async def fetch_status(node: "Node", peer: PeerId) -> Status | None:
    try:
        raw = await node.transport.request(peer, node.topics.protocol("status"),
                                           StatusRequest().encode(), timeout=2.0)
        return Status.decode(raw, max_size=256)
    except (RequestError, MessageError, ValueError) as e:
        log_event(log, logging.DEBUG, "status_request_failed", peer=peer, error=str(e))
        return None


async def fetch_blocks(node: "Node", peer: PeerId, start: int, end: int) -> list[tuple[bytes, bytes]]:
    try:
        raw = await node.transport.request(peer, node.topics.protocol("blocks"),
                                           BlocksRequest(start, end).encode(), timeout=10.0)
        return list(BlocksResponse.decode(raw, max_size=len(raw)).blocks)
    except (RequestError, MessageError, ValueError) as e:
        log_event(log, logging.INFO, "blocks_request_failed", peer=peer, error=str(e))
        return []


async def run_catchup(node: "Node", interval: float = 1.0, *,
                      task_status=trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    seen_height, progress_at = node.chain.height, trio.current_time()
    node.catchup_wanted.set()  # at start: a restarted node is behind by what it missed
    while True:
        with trio.move_on_after(interval):
            await node.catchup_wanted.wait()
        wanted = node.catchup_wanted.is_set()
        node.catchup_wanted = trio.Event()
        # Ask every peer its status only when told to (start, a peer connected, a proposal
        # from ahead, more blocks to fetch) or when our height has not moved for 2
        # intervals: polling a live network every second was a sixth of an idle node's CPU.
        if node.chain.height != seen_height:
            seen_height, progress_at = node.chain.height, trio.current_time()
        if not wanted and trio.current_time() - progress_at < 2 * interval:
            continue
        for peer in node.transport.peers():
            st = await fetch_status(node, peer)
            if st is None:
                continue
            node.peer_heights[peer] = st.height
            ours = node.chain.height
            # a peer one block ahead is normal (it committed first); fetch only when we
            # are clearly behind, stuck (decided without the block, or a stale round), or
            # told we are behind (start, a peer connected, a proposal past our next height)
            stuck = node.pending_decision is not None or node.round_age() > 1.0 or wanted
            if st.earliest_height > ours + 1:
                continue  # it pruned the blocks we need (docs/operating.md: state sync)
            if st.height > ours + 1 or (st.height > ours and stuck):
                end = min(st.height, ours + MAX_BLOCKS_PER_REQUEST)
                got = await fetch_blocks(node, peer, ours + 1, end)
                if got:
                    log_event(log, logging.INFO, "catchup_fetched", peer=peer, from_height=ours + 1,
                              count=len(got), peer_height=st.height)
                    await node.inputs.send(SyncedBlocks(peer, tuple(got)))
                    node.catchup_wanted.set()  # more to fetch: go again at once
                break
            if st.height == ours and node.current_round < st.round <= node.admission.max_round(ours + 1):
                await pull_votes(node, peer, ours + 1, st.round)


async def pull_votes(node: "Node", peer: PeerId, height: int, round: int) -> None:
    """Ask `peer` for the votes of (height, round); verify them here, not in the consensus
    task (`verified_votes`: an answer with more votes than the round can hold, or with one
    vote that is not of that round or not validly signed, is dropped whole and penalises
    the peer)."""
    try:
        raw = await node.transport.request(peer, node.topics.protocol("votes-of-round"),
                                           VotesRequest(height, round).encode(), timeout=2.0)
        votes = VotesResponse.decode(raw, max_size=len(raw)).votes
    except MessageError as e:
        node.transport.penalise(peer, e.code)
        return
    except (RequestError, ValueError):
        return
    verified = verified_votes(node, peer, votes, height, rounds=1, round=round)
    if verified:
        await node.inputs.send(PulledVotes(peer, tuple(verified)))


def verified_votes(node: "Node", peer: PeerId, votes: tuple[bytes, ...], height: int, *,
                   rounds: int, round: int | None = None) -> list[tuple[Vote, bytes]]:
    """The votes of `height` (and `round`, if given) a peer sent us, each checked by the
    vote admission (node/admission.py) outside the consensus task. More than `rounds`
    rounds can hold, or one vote that is invalid or of another height or round, drops them
    all and penalises the peer; votes our height or round moved past are left out
    (nobody's fault)."""
    valset = node.chain.validator_set(height)
    if not votes or valset is None:
        return []
    if len(votes) > MAX_VOTES_PER_VALIDATOR * rounds * len(valset):
        node.transport.penalise(peer, "too_many_votes")
        return []
    verified = []
    for vote_bytes in votes:
        v, verdict = node.admission.vote_verdict(vote_bytes)
        if v is None and verdict == IGNORE:
            continue  # our height or round moved on meanwhile
        if v is None or v.height != height or (round is not None and v.round != round):
            node.transport.penalise(peer, verdict or "invalid")
            return []
        verified.append((v, vote_bytes))
    return verified


async def accept_push(node: "Node", peer: PeerId, push: ConsensusPush) -> None:
    """What a peer's consensus executor sent us straight (its re-gossip, a re-proposal's
    POL): the votes (verified here) into the consensus task, then the proposals through
    the proposal receiver's own checks. The sender's height and round are its status: a
    peer ahead triggers catch-up; one behind in rounds at our height gets help, paced by
    our executor."""
    ours = node.chain.height + 1
    if push.height > ours:
        node.catchup_wanted.set()
        return  # votes of a height we cannot check yet
    if push.height < ours:
        return  # its catch-up fetches the blocks it lacks
    verified = verified_votes(node, peer, push.votes, ours, rounds=PUSHED_ROUNDS)
    if verified:
        await node.inputs.send(PulledVotes(peer, tuple(verified)))
    for proposal in push.proposals:
        try:
            await node.proposals.receive(peer, proposal)
        except MessageError:
            raise
        except ValueError as e:
            raise MessageError("malformed", f"pushed proposal: {e}") from None
    if push.round < node.current_round:
        await node.inputs.send(HelpPeer(peer, push.round))


async def run_vote_pull(node: "Node", interval: float = 1.0, *,
                        task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Periodically pull the votes of our current round: heals votes lost in gossip."""
    task_status.started()
    while True:
        await trio.sleep(interval)
        if node.round_age() < interval:
            continue  # the round is progressing; gossip is doing its job
        h, r = node.chain.height + 1, node.current_round
        if node.driver is None or node.driver.height < h:
            continue  # decided, in the commit timeout: no round of h to heal yet
        for peer in node.transport.peers():
            await pull_votes(node, peer, h, r)
