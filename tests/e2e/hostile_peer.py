"""A hostile libp2p peer for tests/e2e/test_hostile_peers.py. It attacks one validator
(the target) with one class of bad input per fresh identity, and prints one JSON line
per attack: what it sent (sha256 of each payload), whether the target banned it, and
whether the target relayed any of it. A spy peer, connected to the target only and in
its gossip mesh, records everything the target relays (its own and other validators'
messages prove the relay works; the attacks' payloads must never appear).

    python hostile_peer.py TARGET_MULTIADDR CHAIN_ID VALIDATOR_ADDRESS_HEX[,..] ATTACK[,..]
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import sys

import msgpack
import trio
from nacl.signing import SigningKey

from consensus.types import Proposal, Vote, VoteType
from p2p.config import P2PConfig
from p2p.ids import STATUS, VOTES_OF_ROUND, ChainTopics, TOPIC_KINDS
from p2p.libp2p_transport import Libp2pTransport, open_libp2p_transport
from p2p.messages import CompactProposal, Status, StatusRequest, TxBatch, VoteMessage, VotesResponse
from p2p.transport import RequestError
from state.tx import sign_tx

BAN_WAIT = 30.0  # a vote-pull ban needs ~5 catch-up rounds of 1 s: slower on a loaded machine


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Attack:
    def __init__(self, target: str, chain_id: str, validators: list[bytes], rng: random.Random):
        self.target_addr = target
        self.target = target.rsplit("/p2p/", 1)[1]
        self.chain_id = chain_id
        self.topics = ChainTopics(chain_id)
        self.validators = validators
        self.rng = rng
        self.sent: list[str] = []

    def config(self) -> P2PConfig:
        return P2PConfig(chain_id=self.chain_id, identity_seed=self.rng.randbytes(32),
                         listen_addrs=("/ip4/127.0.0.1/tcp/0",), validator_peer_ids=("none",))

    async def join(self, t: Libp2pTransport) -> None:
        await t.connect(self.target_addr, timeout=30)
        with trio.fail_after(30):  # until the target's subscriptions are known (loaded machine: seconds)
            while len([k for k in TOPIC_KINDS if self.target in t.subscribed_peers(getattr(self.topics, k))]) < 4:
                await trio.sleep(0.05)

    async def status(self, t: Libp2pTransport) -> Status:
        raw = await t.request(self.target, self.topics.protocol(STATUS), StatusRequest().encode(), timeout=3)
        return Status.decode(raw, 256)

    async def publish(self, t: Libp2pTransport, kind: str, payload: bytes) -> None:
        self.sent.append(sha(payload))
        await t.publish_unchecked(getattr(self.topics, kind), payload)

    async def banned(self, t: Libp2pTransport) -> bool:
        """The target dropped us, or answers our requests with `refused`."""
        with trio.move_on_after(BAN_WAIT):
            while self.target in t.peers():
                try:
                    await self.status(t)
                except RequestError as e:
                    if e.code in ("refused", "unreachable"):
                        return True
                await trio.sleep(0.2)
            return True
        return False

    def junk(self, n: int) -> bytes:
        return self.rng.randbytes(n)

    # -- one method per class of bad input; each returns extra facts for the report
    async def garbage(self, t) -> dict:
        for i in range(8):
            await self.publish(t, TOPIC_KINDS[i % 4], self.junk(1 + i * 37))
        return {}

    async def huge_round_proposals(self, t) -> dict:
        h = (await self.status(t)).height
        for rnd in (3_000_000, 2**31 - 1, 2**31 - 2, 10**9, 4_000_000, 2**30):
            p = Proposal(h + 1, rnd, self.junk(32), -1, self.validators[0], self.junk(64))
            await self.publish(t, "proposals", CompactProposal(p.encode(), b"\x90", (), (), None).encode())
        return {}

    async def bad_signature_votes(self, t) -> dict:
        h = (await self.status(t)).height
        for i in range(6):
            v = Vote(VoteType.PREVOTE, h + 1, i % 2, self.junk(32), self.validators[i % len(self.validators)], self.junk(64))
            await self.publish(t, "votes", VoteMessage(v.encode()).encode())
        return {}

    async def bad_signature_proposals(self, t) -> dict:
        h = (await self.status(t)).height
        for i in range(6):
            p = Proposal(h + 1, 0, self.junk(32), -1, self.validators[i % len(self.validators)], self.junk(64))
            await self.publish(t, "proposals", CompactProposal(p.encode(), b"\x90", (), (), None).encode())
        return {}

    async def invalid_tx_batches(self, t) -> dict:
        for _ in range(6):
            txs = []
            for n in range(200):
                tx = sign_tx(SigningKey(self.junk(32)), self.chain_id, n, 1000, "transfer", [self.junk(20), 1])
                txs.append(tx[:-1] + bytes([tx[-1] ^ 1]))  # a broken signature
            await self.publish(t, "txs", TxBatch(tuple(txs)).encode())
        return {}

    async def huge_field_requests(self, t) -> dict:
        """Block ranges of 2**62 heights: each answered `bad_field`, the last one too."""
        codes = []
        for _ in range(6):
            try:
                await t.request(self.target, self.topics.protocol("blocks"), msgpack.packb([14, 1, 2**62]), timeout=3)
                codes.append("ok")
            except RequestError as e:
                codes.append(e.code)
        return {"answers": codes}

    async def flood(self, t) -> dict:
        """Well-formed votes for a height far ahead: cheap to refuse, never relayed."""
        h = (await self.status(t)).height
        for i in range(3000):
            v = Vote(VoteType.PREVOTE, h + 1000 + i, 0, None, self.validators[0], self.junk(64))
            await self.publish(t, "votes", VoteMessage(v.encode()).encode())
        return {}

    async def pulled_vote_spam(self, t) -> dict:
        """Claim to be a round ahead at the target's height, answer its vote pulls with
        1,000 junk votes (more than a round of 4 validators can hold; small enough to
        arrive within the puller's 2 s timeout on a loaded machine)."""
        spam = VotesResponse(tuple(self.junk(100) for _ in range(1000))).encode()

        async def status(peer, request):
            st = await self.status(t)
            return Status(st.height, st.round + 1, st.app_hash, 1).encode()

        async def votes(peer, request):
            return spam

        t.set_request_handler(self.topics.protocol(STATUS), status)
        t.set_request_handler(self.topics.protocol(VOTES_OF_ROUND), votes)
        # A live target asks peers' status only when there is a reason (node/runtime/sync.py): a
        # proposal from 5 heights ahead is one (ignored, not blamed: outside its window).
        # One per second, so that it polls (and is spammed) about as often as it did when
        # it polled every second; 4 spammed answers (25 points each) ban us.
        async def lure() -> None:
            for _ in range(int(BAN_WAIT)):
                try:
                    st = await self.status(t)
                except RequestError:
                    return  # banned: done
                p = Proposal(st.height + 5, 0, self.junk(32), -1, self.validators[0], self.junk(64))
                await self.publish(t, "proposals", CompactProposal(p.encode(), b"\x90", (), (), None).encode())
                await trio.sleep(1.0)
        self.lures.start_soon(lure)
        return {}


async def spy_and_attack(target: str, chain_id: str, validators: list[bytes], attacks: list[str]) -> None:
    rng = random.Random(os.urandom(16))  # fresh identities: earlier runs banned theirs
    base = Attack(target, chain_id, validators, rng)
    seen: dict[str, set[str]] = {}  # payload hash -> sources
    async with open_libp2p_transport(base.config()) as spy, trio.open_nursery() as nursery:
        async def record(channel):
            async for g in channel:
                seen.setdefault(sha(g.payload), set()).add(g.source)
        for kind in TOPIC_KINDS:
            nursery.start_soon(record, await spy.subscribe(getattr(base.topics, kind)))
        await base.join(spy)
        for name in attacks:
            attack = Attack(target, chain_id, validators, rng)
            async with open_libp2p_transport(attack.config()) as t, trio.open_nursery() as attack.lures:
                await attack.join(t)
                extra = await getattr(attack, name)(t)
                banned = await attack.banned(t) if name != "flood" else False
                report = {"attack": name, "peer": t.local_peer, "sent": len(attack.sent), "banned": banned, **extra}
                attack.lures.cancel_scope.cancel()
            # the target relays to the spy within a heartbeat; give any relay time to land
            with trio.move_on_after(1.5):
                while not any(h in seen for h in attack.sent):
                    await trio.sleep(0.05)
            report["relayed"] = sum(1 for h in attack.sent if h in seen)
            report["spy_saw_relays_from_others"] = sum(1 for srcs in seen.values() if srcs - {base.target})
            print(json.dumps(report), flush=True)
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    target, chain_id, validators, attacks = sys.argv[1:5]
    trio.run(spy_and_attack, target, chain_id, [bytes.fromhex(v) for v in validators.split(",")],
             attacks.split(","))
