"""What a peer's consensus executor sends us straight (`consensus-push`): its periodic
re-gossip of the round's proposals and votes, and a re-proposal's POL votes. They come as
a request, not on the gossip topics, because gossipsub drops a re-publish of a message it
saw within 120 s (the sender: node/runtime/consensus_task.py `send`/`relay`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from node.runtime.admission import Admission
from node.runtime.chain import Chain
from node.runtime.consensus_api import ConsensusView, HelpPeer, PulledVotes, Submit
from node.runtime.sync import CatchupWanted, verified_votes
from p2p.ids import ChainTopics
from p2p.messages import ConsensusPush, MessageError
from p2p.transport import PeerId, Transport

# A push carries the rounds of `Driver.gossip_messages`: the current and previous round,
# the valid and the locked round.
PUSHED_ROUNDS = 4


@dataclass
class PushReceiver:
    transport: Transport
    chain: Chain
    consensus: ConsensusView         # its round: is the sender behind us?
    admission: Admission             # the votes' checks
    submit: Submit                   # into the consensus task
    wanted: CatchupWanted            # a sender ahead of us
    receive_proposal: Callable[[PeerId, bytes], Awaitable[None]]  # node/runtime/proposal_assembly.py

    def register(self, topics: ChainTopics) -> None:
        async def pushed(peer: PeerId, payload: bytes) -> bytes:
            await self.accept(peer, ConsensusPush.decode(payload, max_size=len(payload)))
            return b""
        self.transport.set_request_handler(topics.protocol("consensus-push"), pushed)

    async def accept(self, peer: PeerId, push: ConsensusPush) -> None:
        """The votes (verified here, `verified_votes`) into the consensus task, then the
        compact proposals through the proposal receiver's own checks. The sender's height
        and round are its status: one ahead triggers catch-up; one behind in rounds at our
        height gets help (`HelpPeer`, paced by our executor). Malformed: MessageError (the
        transport's policy answers and penalises)."""
        ours = self.chain.height + 1
        if push.height > ours:
            self.wanted.set()
            return  # votes of a height we cannot check yet
        if push.height < ours:
            return  # its catch-up fetches the blocks it lacks
        verified = verified_votes(self.chain, self.admission, self.transport, peer, push.votes,
                                  ours, rounds=PUSHED_ROUNDS)
        if verified:
            await self.submit(PulledVotes(peer, tuple(verified)))
        for proposal in push.proposals:
            try:
                await self.receive_proposal(peer, proposal)
            except MessageError:
                raise
            except ValueError as e:
                raise MessageError("malformed", f"pushed proposal: {e}") from None
        if push.round < self.consensus.current_round:
            await self.submit(HelpPeer(peer, push.round))
