"""Byzantine validators: they hold real keys and sign whatever they like.

  silent      never sends anything
  equivocate  tells every peer what it wants to hear: to each honest sender it answers
              with a prevote and a precommit for that sender's own value (so different
              peers get conflicting signed votes), and as proposer sends two different
              valid proposals to two halves of the network
  split       the classic attack that locking defeats: per height one honest "victim"
              and one "outsider"; prevote the round's proposal to all but the outsider
              (it stays unlocked), precommit it only to the victim (so the victim alone
              may decide) and nil to the rest; as proposer, propose a fresh value to all
              but the outsider (which then times out and stays without a valid value);
              in the height's later rounds, back every proposal for everyone
  random      on each new (height, round) votes for a random choice among nil, the values
              seen, a fresh value and an invalid one -- sometimes a different choice to a
              random half -- and proposes random (sometimes invalid) values
"""
from __future__ import annotations

import hashlib
import random

from consensus.crypto import Ed25519Key
from consensus.types import Proposal, Vote, VoteType


class ByzantineNode:
    def __init__(self, world, index: int, key: Ed25519Key, behaviour: str):
        self.world = world
        self.index = index
        self.key = key
        self.behaviour = behaviour
        self.rng = random.Random(world.sc.seed * 1_000_003 + index)
        self.alive = True
        self.incarnation = 0
        self.max_height = 1
        self.seen_values: dict[tuple[int, int], list[bytes]] = {}
        self.acted: set[tuple[int, int]] = set()
        self.answered: set[tuple[int, int, int, int]] = set()
        self.proposed_rounds: set[tuple[int, int]] = set()
        self.fresh = 0
        self.split_round: dict[int, int] = {}

    def _value(self, h: int, r: int, invalid: bool = False) -> bytes:
        self.fresh += 1
        d = hashlib.sha256(b"byz|%d|%d|%d|%d|%d" % (self.world.sc.seed, self.index, h, r,
                                                    self.fresh)).digest()
        return (b"\xff" if invalid else b"\x01") + d[1:]

    def _vote(self, t: VoteType, h: int, r: int, v: bytes | None) -> Vote:
        from consensus.sim.world import CHAIN_ID
        u = Vote(t, h, r, v, self.key.address)
        return Vote(t, h, r, v, self.key.address, self.key.sign(u.sign_bytes(CHAIN_ID)))

    def _proposal(self, h: int, r: int, v: bytes, pol: int) -> Proposal:
        from consensus.sim.world import CHAIN_ID
        u = Proposal(h, r, v, pol, self.key.address)
        p = Proposal(h, r, v, pol, self.key.address, self.key.sign(u.sign_bytes(CHAIN_ID)))
        self.world.record_proposal(p)
        return p

    def _halves(self) -> tuple[list[int], list[int]]:
        peers = [i for i in range(self.world.sc.n) if i != self.index]
        self.rng.shuffle(peers)
        cut = len(peers) // 2
        return peers[:cut], peers[cut:]

    def deliver(self, env) -> None:
        if self.behaviour == "silent":
            return
        p = env.payload
        if type(p) is Proposal:
            self.seen_values.setdefault((p.height, p.round), []).append(p.value_id)
            h, r = p.height, p.round
        elif type(p) is Vote:
            h, r = p.height, p.round
        else:
            return
        if h < self.max_height - 1 or h > self.max_height + 1:
            return
        self.max_height = max(self.max_height, h)
        self._maybe_propose(h, r)
        self._maybe_propose(h, r + 1)
        self._maybe_propose(h + 1, 0)  # early: honest nodes keep it until they get there
        if self.behaviour == "split":
            self._split(h, r)
        elif self.behaviour == "equivocate":
            v = p.value_id
            if v is None:
                seen = self.seen_values.get((h, r))
                v = seen[0] if seen else None
            for t in (VoteType.PREVOTE, VoteType.PRECOMMIT):
                k = (env.src, h, r, int(t))
                if k not in self.answered:
                    self.answered.add(k)
                    self.world.send(self.index, env.src, self._vote(t, h, r, v))
        elif (h, r) not in self.acted:
            self.acted.add((h, r))
            for t in (VoteType.PREVOTE, VoteType.PRECOMMIT):
                a, b = self._halves()
                first = self._pick(h, r)
                second = self._pick(h, r) if self.rng.random() < 0.3 else first
                for dst in a:
                    self.world.send(self.index, dst, self._vote(t, h, r, first))
                for dst in b:
                    self.world.send(self.index, dst, self._vote(t, h, r, second))

    def _split_roles(self, h: int) -> tuple[int, int]:
        """Per height, one honest victim (the only one that may decide) and one honest
        outsider (kept from seeing the polka, so it stays unlocked)."""
        honest = self.world.sc.honest
        victim = honest[h % len(honest)]
        return victim, honest[(h + 1) % len(honest)]

    def _split(self, h: int, r: int) -> None:
        seen = self.seen_values.get((h, r))
        if not seen or (h, r) in self.acted:
            return
        self.acted.add((h, r))
        v = seen[0]
        victim, outsider = self._split_roles(h)
        first = self.split_round.setdefault(h, r)
        if r > first:  # later rounds: back whatever is proposed, for everyone
            victim = outsider = -1
        for dst in range(self.world.sc.n):
            if victim == -1:
                if dst != self.index:
                    self.world.send(self.index, dst, self._vote(VoteType.PREVOTE, h, r, v))
                    self.world.send(self.index, dst, self._vote(VoteType.PRECOMMIT, h, r, v))
                continue
            if dst != self.index:
                self.world.send(self.index, dst, self._vote(
                    VoteType.PREVOTE, h, r, None if dst == outsider else v))
                self.world.send(self.index, dst, self._vote(
                    VoteType.PRECOMMIT, h, r, v if dst == victim else None))

    def _pick(self, h: int, r: int) -> bytes | None:
        choices: list[bytes | None] = [None] + self.seen_values.get((h, r), [])
        x = self.rng.random()
        if x < 0.15:
            return self._value(h, r)
        if x < 0.25:
            return self._value(h, r, invalid=True)
        return choices[self.rng.randrange(len(choices))]

    def _maybe_propose(self, h: int, r: int) -> None:
        if (h, r) in self.proposed_rounds:
            return
        self.proposed_rounds.add((h, r))
        if self.world.valset_for(h).proposer(h, r).address != self.key.address:
            return
        a, b = self._halves()
        if self.behaviour == "split":  # a fresh value, kept from the outsider
            p = self._proposal(h, r, self._value(h, r), -1)
            self.seen_values.setdefault((h, r), []).insert(0, p.value_id)
            outsider = self._split_roles(h)[1]
            for dst in range(self.world.sc.n):
                if dst != self.index and dst != outsider:
                    self.world.send(self.index, dst, p)
            return
        if self.behaviour == "equivocate":
            pa, pb = self._proposal(h, r, self._value(h, r), -1), self._proposal(h, r, self._value(h, r), -1)
        else:
            invalid = self.rng.random() < 0.3
            pol = self.rng.randint(-1, r - 1) if r > 0 and self.rng.random() < 0.3 else -1
            pa = pb = self._proposal(h, r, self._value(h, r, invalid), pol)
        for dst in a:
            self.world.send(self.index, dst, pa)
        for dst in b:
            self.world.send(self.index, dst, pb)
