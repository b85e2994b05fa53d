"""What peers send is vetted before it is relayed or reaches the consensus task
(node/runtime/admission.py, node/runtime/sync.py): bounds first, signatures before state, penalties."""
from __future__ import annotations

import pytest
import trio
from nacl.signing import SigningKey

from consensus.crypto import Ed25519Key
from consensus.types import Proposal, Vote, VoteType
from node.home import Home
from node.keys import Keyring
from node.runtime.node import Node
from node.runtime.consensus_api import HelpPeer, PulledVotes
from p2p.counters import TransportCounters
from p2p.messages import (
    CompactProposal, ConsensusPush, MessageError, TxBatch, VoteMessage, VotesResponse,
)
from p2p.transport import IGNORE, RequestError
from state.genesis import Genesis
from state.tx import sign_tx, tx_id
from testnet.network import generate

CHAIN = "adm-chain"


class RecordingTransport:
    """Just enough of a Transport: records penalties, answers requests from a table."""

    def __init__(self, answers: dict[str, bytes] | None = None):
        self.local_peer = "me"
        self.counters = TransportCounters()
        self.penalties: list[tuple[str, str]] = []
        self.answers = answers or {}

    def penalise(self, peer: str, reason: str) -> None:
        self.penalties.append((peer, reason))

    async def request(self, peer, protocol, payload, timeout=5.0) -> bytes:
        await trio.lowlevel.checkpoint()
        for suffix, answer in self.answers.items():
            if suffix in protocol:
                return answer
        raise RequestError("no_handler", protocol)


def open_node(own_dir, transport) -> tuple[Node, list[Ed25519Key]]:
    info = generate(own_dir, 4, chain_id=CHAIN)
    homes = [Home(n.home) for n in info.nodes]
    keys = [Ed25519Key(h.validator_key().seed) for h in homes]
    node = Node(homes[0], homes[0].load_config(), Genesis.load(homes[0].genesis_file), transport,
                validator_key=keys[0])
    return node, keys


def signed_vote(key: Ed25519Key, height: int, round: int, value: bytes | None = b"\x01" * 32,
                type: VoteType = VoteType.PREVOTE) -> bytes:
    v = Vote(type, height, round, value, key.address)
    return Vote(v.type, v.height, v.round, v.value_id, v.validator, key.sign(v.sign_bytes(CHAIN))).encode()


def proposal_bytes(proposer: bytes, round: int, signature: bytes) -> bytes:
    return Proposal(1, round, b"\x02" * 32, -1, proposer, signature).encode()


async def test_a_huge_round_proposal_with_a_garbage_signature_costs_no_proposer_walk(own_dir):
    t = RecordingTransport()
    node, keys = open_node(own_dir, t)
    try:
        vs = node.chain.validator_set(1)
        header = b"\x90"
        for round in (50, 200_000, 2**31 - 1):  # refused on the signature, the round unread
            cp = CompactProposal(proposal_bytes(keys[1].address, round, b"\x07" * 64), header, (), (), None)
            await node.proposals.receive("peer", cp.encode())
            assert node.admission.check_proposal("peer", cp) == "invalid"
        assert len(vs._proposers) == 0
        assert t.penalties == [("peer", "invalid")] * 3
        # validly signed but far ahead: ignored (nobody blamed), still no walk
        p = Proposal(1, 200_000, b"\x02" * 32, -1, keys[1].address)
        p = Proposal(1, 200_000, p.value_id, -1, keys[1].address, keys[1].sign(p.sign_bytes(CHAIN)))
        assert node.admission.check_proposal("peer", CompactProposal(p.encode(), header, (), (), None)) == IGNORE
        assert len(vs._proposers) == 0
        # a proposal signed by a validator that is not the round's proposer is invalid too
        wrong = next(k for k in keys if k.address != vs.proposer(1, 3).address)
        p = Proposal(1, 3, b"\x02" * 32, -1, wrong.address)
        p = Proposal(1, 3, p.value_id, -1, wrong.address, wrong.sign(p.sign_bytes(CHAIN)))
        assert node.admission.check_proposal("peer", CompactProposal(p.encode(), header, (), (), None)) == "invalid"
        assert len(vs._proposers) == 4  # walked to round 3 only
    finally:
        node.close()


async def test_votes_bad_signature_is_blamed_far_round_is_ignored(own_dir):
    t = RecordingTransport()
    node, keys = open_node(own_dir, t)
    try:
        good = signed_vote(keys[1], 1, 0)
        assert node.admission.check_vote("p", VoteMessage(good)) is None
        forged = good[:-64] + bytes(64)
        assert node.admission.check_vote("p", VoteMessage(forged)) == "invalid"
        assert node.admission.check_vote("p", VoteMessage(b"\xc1")) == "malformed"
        far = signed_vote(keys[1], 1, node.admission.max_round(1) + 1)
        assert node.admission.check_vote("p", VoteMessage(far)) == IGNORE
        assert node.admission.check_vote("p", VoteMessage(far[:-64] + bytes(64))) == "invalid"
        assert node.admission.check_vote("p", VoteMessage(signed_vote(keys[1], 9, 0))) == IGNORE
    finally:
        node.close()


async def test_a_gossiped_vote_is_verified_once_and_its_window_checked_again(own_dir, monkeypatch):
    """The gossip check verified it; the receiver re-checks only what may have changed
    since (our height), and verifies what the check never saw."""
    t = RecordingTransport()
    node, keys = open_node(own_dir, t)
    try:
        verified = []
        real_verify = Vote.verify
        monkeypatch.setattr(Vote, "verify", lambda v, *a: verified.append(v.validator) or real_verify(v, *a))
        admission = node.admission
        good, other = signed_vote(keys[1], 1, 0), signed_vote(keys[2], 1, 0)
        assert admission.check_vote("p", VoteMessage(good)) is None and len(verified) == 1
        v, verdict = admission.gossiped_vote_verdict(good)
        assert (v.validator, verdict, len(verified)) == (keys[1].address, None, 1)  # not verified again
        assert admission.gossiped_vote_verdict(good)[1] is None and len(verified) == 2  # consumed once
        assert admission.gossiped_vote_verdict(other[:-64] + bytes(64)) == (None, "invalid")  # never checked
        assert admission.check_vote("p", VoteMessage(other)) is None
        monkeypatch.setattr(type(node.chain), "height", property(lambda chain: 1))  # height 1 committed meanwhile
        assert admission.gossiped_vote_verdict(other) == (None, IGNORE)
    finally:
        node.close()


async def test_a_late_precommit_for_the_height_just_committed_is_let_in_a_prevote_is_not(own_dir, monkeypatch):
    t = RecordingTransport()
    node, keys = open_node(own_dir, t)
    try:
        monkeypatch.setattr(type(node.chain), "height", property(lambda chain: 1))  # height 1 committed
        late = signed_vote(keys[1], 1, 0, type=VoteType.PRECOMMIT)
        assert node.admission.check_vote("p", VoteMessage(late)) is None
        assert node.admission.check_vote("p", VoteMessage(late[:-64] + bytes(64))) == "invalid"
        assert node.admission.check_vote("p", VoteMessage(signed_vote(keys[1], 1, 0))) == IGNORE
    finally:
        node.close()


async def test_garbage_for_a_height_committed_while_it_was_in_flight_is_still_blamed(own_dir, monkeypatch):
    """An attacker reads our height, we commit one more, its garbage arrives: still blamed
    (the hostile-peer suite saw such senders escape their ban under load)."""
    t = RecordingTransport()
    node, keys = open_node(own_dir, t)
    try:
        monkeypatch.setattr(type(node.chain), "height", property(lambda chain: 2))  # 1 and 2 committed
        for h in (1, 2):
            prevote = signed_vote(keys[1], h, 0)
            assert node.admission.check_vote("p", VoteMessage(prevote)) == IGNORE  # honest, late: no blame
            assert node.admission.check_vote("p", VoteMessage(prevote[:-64] + bytes(64))) == "invalid"
            p = Proposal(h, 2**31 - 1, b"\x02" * 32, -1, keys[1].address, b"\x07" * 64)
            assert node.admission.check_proposal("p", CompactProposal(p.encode(), b"\x90", (), (), None)) == "invalid"
            p = Proposal(h, 0, b"\x02" * 32, -1, keys[1].address)
            p = Proposal(h, 0, p.value_id, -1, keys[1].address, keys[1].sign(p.sign_bytes(CHAIN)))
            assert node.admission.check_proposal("p", CompactProposal(p.encode(), b"\x90", (), (), None)) == IGNORE
    finally:
        node.close()


async def test_pulled_votes_are_bounded_and_verified_before_the_consensus_task(own_dir):
    spam = VotesResponse(tuple(b"\x96" + bytes([i % 256]) * 40 for i in range(20_000))).encode()
    t = RecordingTransport({"votes-of-round": spam})
    node, keys = open_node(own_dir, t)
    try:
        await node.catchup.pull_votes("spammer", 1, 0)
        assert t.penalties == [("spammer", "too_many_votes")]
        assert node.consensus.inbox.statistics().current_buffer_used == 0  # nothing reached consensus
        good = [signed_vote(k, 1, 0) for k in keys]
        t.answers["votes-of-round"] = VotesResponse((*good, good[0][:-64] + bytes(64))).encode()
        await node.catchup.pull_votes("liar", 1, 0)
        assert t.penalties[-1] == ("liar", "invalid")
        t.answers["votes-of-round"] = VotesResponse((*good[:2], signed_vote(keys[2], 1, 1))).encode()
        await node.catchup.pull_votes("mixer", 1, 0)  # a vote of another round than asked
        assert t.penalties[-1] == ("mixer", "invalid")
        assert node.consensus.inbox.statistics().current_buffer_used == 0
        t.answers["votes-of-round"] = VotesResponse(tuple(good)).encode()
        await node.catchup.pull_votes("honest", 1, 0)
        pulled = node.consensus.inbox.receive_nowait()
        assert isinstance(pulled, PulledVotes) and [raw for _, raw in pulled.votes] == good
        assert all(who != "honest" for who, _ in t.penalties)
    finally:
        node.close()


async def test_pushed_votes_are_bounded_and_verified_before_the_consensus_task(own_dir):
    """A peer's re-gossip (`consensus-push`) passes the same checks as pulled votes."""
    t = RecordingTransport()
    node, keys = open_node(own_dir, t)
    inbox = node.consensus.inbox
    try:
        good = [signed_vote(k, 1, 0) for k in keys]
        spam = tuple(good) * 17  # more than 4 rounds of 4 validators can hold (4 * 4 * 4)
        await node.pushes.accept("spammer", ConsensusPush(1, 0, (), spam))
        assert t.penalties == [("spammer", "too_many_votes")]
        await node.pushes.accept("liar", ConsensusPush(1, 0, (), (*good, good[0][:-64] + bytes(64))))
        assert t.penalties[-1] == ("liar", "invalid")
        assert inbox.statistics().current_buffer_used == 0  # nothing reached consensus
        with pytest.raises(MessageError):  # penalised by the transport's policy
            await node.pushes.accept("garbage", ConsensusPush(1, 0, (b"\x93junk",), ()))
        await node.catchup_wanted.wait(0)  # (unset)
        await node.pushes.accept("ahead", ConsensusPush(5, 0, (), tuple(good)))
        assert await node.catchup_wanted.wait(0) and inbox.statistics().current_buffer_used == 0
        await node.pushes.accept("honest", ConsensusPush(1, 0, (), tuple(good)))
        pulled = inbox.receive_nowait()
        assert isinstance(pulled, PulledVotes) and [raw for _, raw in pulled.votes] == good
        assert all(who != "honest" for who, _ in t.penalties)
        node.consensus.current_round = 2  # a peer at our height in an earlier round gets help
        await node.pushes.accept("slow", ConsensusPush(1, 1, (), ()))
        assert inbox.receive_nowait() == HelpPeer("slow", 1)
    finally:
        node.close()


async def test_gossiped_txs_are_checked_once_before_relay(own_dir, monkeypatch):
    t = RecordingTransport()
    node, _ = open_node(own_dir, t)
    try:
        ring = Keyring(own_dir / "keyring")
        alice, bob = ring.get("alice"), ring.get("bob")
        good = sign_tx(SigningKey(alice.seed), CHAIN, 0, 1000, "transfer", [bob.address, 5])
        bad = good[:-64] + bytes(64)
        assert node.admission.check_tx(bad) is False
        assert node.admission.check_tx(b"\x93garbage") is False
        assert node.admission.check_tx(good) is True
        import node.runtime.checker as checker
        calls = []
        real = checker.verify_signature
        monkeypatch.setattr(checker, "verify_signature", lambda stx: calls.append(1) or real(stx))
        node.mempool.add(good)  # admitted after the gossip check: no second verification
        assert calls == [] and len(node.mempool) == 1
        # TxGossip refuses a batch holding one invalid tx (p2p/tx_gossip.py)
        from p2p.tx_gossip import TxGossip
        g = TxGossip(t, "/attrchain/adm-chain/txs/1", tx_id=tx_id, check_tx=node.admission.check_tx)
        assert g.check_batch("p", TxBatch((good, bad))) == "invalid"
        assert g.check_batch("p", TxBatch((good,))) is None
    finally:
        node.close()
