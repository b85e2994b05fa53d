"""Random transaction workloads for the property tests (supply, determinism).

A plan is a list of blocks; each block is (missing validator or None, [action, ...]).
Actions name actors and assets by small indexes and are turned into signed txs against
the chain's current state, so most are valid and some fail on purpose (too large
amounts, unknown assets, wrong owners), which exercises the refusal paths too.
"""
from __future__ import annotations

import hashlib

from hypothesis import strategies as st

from ledger_helpers import ACCOUNTS, addr, double_sign
from state.devchain import DevChain, seeded_key

amounts = st.one_of(st.integers(1, 5_000_000), st.sampled_from([1, 999_999, 1_000_000, 10**12, 10**15]))
actor = st.integers(0, 7)          # 0..3: accounts, 4..7: validator operators
ref = st.integers(0, 15)

core_actions = st.one_of(
    st.tuples(st.just("transfer"), actor, actor, amounts),
    st.tuples(st.just("create_validator"), actor, amounts),
    st.tuples(st.just("stake"), actor, amounts),
    st.tuples(st.just("unstake"), actor, st.one_of(amounts, st.just(10**11))),
    st.tuples(st.just("unjail"), actor),
    st.tuples(st.just("evidence"), st.integers(0, 3), st.integers(1, 4)),
)

ppm_weights = st.integers(1, 600_000)
asset_actions = st.one_of(
    st.tuples(st.just("create_datanet"), actor, st.integers(0, 1_000_000), st.sampled_from([0, 1_000, 50_000]),
              st.lists(actor, max_size=3, unique=True)),
    st.tuples(st.just("contribute"), actor, ref, st.integers(0, 10**6)),
    st.tuples(st.just("review"), actor, ref, st.booleans(), st.integers(1, 1_000_000)),
    st.tuples(st.just("register_model"), actor, st.lists(st.tuples(ref, ppm_weights), max_size=3),
              st.sampled_from([0, 1, 1_000, 123_457])),
    st.tuples(st.just("register_agent"), actor, st.lists(st.tuples(ref, ppm_weights), max_size=3),
              st.sampled_from([0, 7, 10_000])),
    st.tuples(st.just("use"), actor, ref, st.sampled_from([0, 10**6, 10**9])),
    st.tuples(st.just("set_price"), actor, ref, st.sampled_from([0, 5, 99_999])),
    st.tuples(st.just("transfer_shares"), actor, ref, actor, st.integers(1, 1_000_000)),
    st.tuples(st.just("claim"), actor, ref),
    # Proof of Attribution: escrows are named by index among those the workload has seen
    st.tuples(st.just("set_attributor"), actor, ref, actor),
    st.tuples(st.just("attest"), actor, ref, st.lists(st.tuples(ref, st.integers(1, 700_000)), max_size=3),
              st.sampled_from(["span-v1", "span-v9"])),
    st.tuples(st.just("challenge"), actor, ref, st.sampled_from([1, 1_000_000, 10**15])),
    st.tuples(st.just("resolve"), actor, ref, st.booleans()),
    st.tuples(st.just("place_order"), actor, ref, st.sampled_from(["buy", "sell"]),
              st.sampled_from([1, 500, 400_000]), st.sampled_from([1, 9, 10**13]), st.integers(0, 3)),
    st.tuples(st.just("cancel_order"), actor, st.integers(0, 31)),
)

actions = st.one_of(core_actions, asset_actions)
blocks = st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 3)), st.lists(actions, max_size=8)),
                  min_size=1, max_size=8)


class Workload:
    """Turns actions into signed txs for one chain and remembers the assets created."""

    def __init__(self, chain: DevChain) -> None:
        self.chain = chain
        self.keys = list(ACCOUNTS) + [v.operator_key for v in chain.validators]
        self.assets: list[bytes] = []          # ids of registered assets, in creation order
        self.by_kind: dict[int, list[bytes]] = {1: [], 2: [], 3: [], 4: []}   # datanet, contribution, model, agent
        self.records: dict[bytes, list] = {}
        self.escrows: list[tuple[bytes, bytes, bytes, bytes]] = []   # (attestation id, use, datanet, model)
        self.key_of = {addr(k): k for k in self.keys}
        self.orders: list[bytes] = []          # ids of the orders placed (for cancels)

    def key(self, i: int):
        return self.keys[i % len(self.keys)]

    def asset(self, i: int, kind: int | None = None) -> bytes:
        """An existing asset (of `kind` when i is even), or for i >= 14 an unknown id."""
        pool = self.by_kind[kind] if kind is not None and i % 2 == 0 and self.by_kind[kind] else self.assets
        if not pool or i >= 14:
            return hashlib.sha256(b"no such asset %d" % i).digest()
        return pool[i % len(pool)]

    def tx(self, action) -> bytes:
        c = self.chain
        kind = action[0]
        if kind == "transfer":
            _, s, r, amount = action
            to = addr(self.key(r)) if s != r else b"\x05" * 20
            return c.tx(self.key(s), "transfer", to, amount)
        if kind == "create_validator":
            _, s, amount = action
            ck = seeded_key(f"workload/consensus/{s}")
            c.extra_consensus_keys[addr(ck)] = ck
            return c.tx(self.key(s), "create_validator", bytes(ck.verify_key), amount)
        if kind in ("stake", "unstake"):
            _, s, amount = action
            return c.tx(self.key(s), kind, amount)
        if kind == "unjail":
            return c.tx(self.key(action[1]), "unjail")
        if kind == "evidence":
            _, offender, back = action
            height = max(1, c.ledger.height - back)
            return c.tx(self.keys[0], "evidence", *double_sign(c, offender, height))
        return self.asset_tx(action)

    def asset_tx(self, action) -> bytes:
        c = self.chain
        kind, s = action[0], action[1]
        key = self.key(s)
        if kind == "create_datanet":
            _, _, share, bond, curators = action
            return c.tx(key, kind, f"datanet {len(self.assets)}", "ipfs://d", share, bond,
                        sorted({addr(self.key(i)) for i in curators} | {addr(key)}))
        if kind == "contribute":
            return c.tx(key, kind, self.asset(action[2], 1), hashlib.sha256(b"%d" % action[3]).digest(),
                        action[3], "ipfs://c")
        if kind == "review":
            _, _, r, accept, weight = action
            contribution = self.asset(r, 2)
            rec = self.records.get(contribution)
            if rec is not None and rec[0] == 2 and r % 4 == 0:   # then ask one of its curators
                datanet = self.records.get(rec[8][0])
                curators = datanet[8][2] if datanet is not None else []
                key = next((self.key_of[a] for a in curators if a in self.key_of), key)
            return c.tx(key, kind, contribution, accept, weight if accept else 0)
        if kind in ("register_model", "register_agent"):
            _, _, sources, price = action
            srcs, seen, total = [], set(), 0
            for r, w in sources:
                a = self.asset(r)
                if a not in seen and total + w <= 1_000_000:
                    seen.add(a)
                    total += w
                    srcs.append([a, w])
            return c.tx(key, kind, f"{kind} {len(self.assets)}", "ipfs://m", price, srcs)
        if kind == "use":
            return c.tx(key, kind, self.asset(action[2], 4 if action[2] % 4 == 0 else 3), action[3])
        if kind == "set_price":
            return c.tx(key, kind, self.asset(action[2]), action[3])
        if kind == "transfer_shares":
            _, _, r, to, shares = action
            dest = addr(self.key(to)) if to != s else b"\x06" * 20
            return c.tx(key, kind, self.asset(r), dest, shares)
        if kind == "claim":
            return c.tx(key, kind, self.asset(action[2], 2))
        if kind == "place_order":
            _, _, r, side, shares, price, expires_in = action
            raw = c.tx(key, kind, self.asset(r, 3), side, shares, price, c.ledger.height + 1 + expires_in)
            from state.order_book import compute_order_id
            from state.tx import tx_id
            self.orders.append(compute_order_id(tx_id(raw)))
            return raw
        if kind == "cancel_order":
            order = self.orders[action[2] % len(self.orders)] if self.orders else b"\x00" * 32
            return c.tx(key, kind, order)
        return self.poa_tx(action)

    def escrow(self, i: int) -> tuple[bytes, bytes, bytes, bytes]:
        if not self.escrows or i >= 14:
            return (hashlib.sha256(b"no such escrow %d" % i).digest(),) * 4
        return self.escrows[i % len(self.escrows)]

    def entitled_key(self, s: int, kind: str, datanet: bytes, model: bytes):
        """For even actors, the account the kind needs (the model's attributor, a curator
        of the datanet), so that random plans reach the paths after those checks."""
        from state.codec import decode_value
        if s % 2:
            return None
        if kind == "attest":
            raw = self.chain.state.get(b"atb/" + model)
            return None if raw is None else self.key_of.get(decode_value(raw)[0])
        from state.asset_records import AssetRecord
        rec = self.records.get(datanet)
        curators = AssetRecord.decode(rec).curators if rec is not None and rec[0] == 1 else []
        return self.key_of.get(curators[s // 2 % len(curators)]) if curators else None

    def poa_tx(self, action) -> bytes:
        c, (kind, s) = self.chain, action[:2]
        key = self.key(s)
        if kind == "set_attributor":
            return c.tx(key, kind, self.asset(action[2], 3), addr(self.key(action[3])))
        aid, use, datanet, model = self.escrow(action[2])
        if kind in ("attest", "resolve"):
            key = self.entitled_key(s, kind, datanet, model) or key
        if kind == "attest":
            scores = {self.asset(r, 2): p for r, p in action[3]}
            return c.tx(key, kind, use, datanet, b"\x01" * 32, action[4], [[a, p] for a, p in scores.items()])
        if kind == "challenge":
            return c.tx(key, kind, aid, action[3])
        if kind == "resolve":
            return c.tx(key, kind, aid, action[3])
        raise AssertionError(kind)

    def note_created(self, result) -> None:
        """Remember the assets a block created: new `ast/` keys in its changes (the record's
        first field is its kind)."""
        from state.codec import decode_value
        for k in sorted(result.changes):
            v = result.changes[k]
            if k.startswith(b"ast/") and v is not None:
                rec = decode_value(v)
                if k[4:] not in self.records:
                    self.assets.append(k[4:])
                    self.by_kind[rec[0]].append(k[4:])
                self.records[k[4:]] = rec
            elif k.startswith(b"pes/") and v is not None and all(e[0] != k[4:] for e in self.escrows):
                rec = decode_value(v)
                self.escrows.append((k[4:], rec[0], rec[1], rec[2]))


def prelude(work: Workload) -> list[list[bytes]]:
    """Blocks that build a 3-level graph first (datanet with 3 contributions, two of them
    accepted; a model on it with carol as its attributor; an agent on the model), so random
    actions meet real assets and attributed uses open escrows.
    Returned lazily: each block's txs are made after the previous one is committed."""
    c = work.chain
    alice, bob, carol, dave = ACCOUNTS
    steps = [
        lambda: [c.tx(alice, "create_datanet", "d", "ipfs://d", 300_000, 1_000, sorted([addr(alice), addr(bob)]))],
        lambda: [c.tx(k, "contribute", work.by_kind[1][0], hashlib.sha256(k.encode()).digest(), 10, "u")
                 for k in (carol, dave, bob)],
        lambda: [c.tx(alice, "review", work.by_kind[2][0], True, 600_000),
                 c.tx(alice, "review", work.by_kind[2][1], True, 200_000),
                 c.tx(bob, "review", work.by_kind[2][2], False, 0),
                 c.tx(bob, "register_model", "m", "u", 50_000,
                      [[work.by_kind[1][0], 400_000], [work.by_kind[2][0], 100_000]])],
        lambda: [c.tx(carol, "register_agent", "a", "u", 80_000, [[work.by_kind[3][0], 500_000]]),
                 c.tx(bob, "set_attributor", work.by_kind[3][0], addr(carol))],
        lambda: [c.tx(dave, "use", work.by_kind[4][0], 80_000), c.tx(dave, "use", work.by_kind[3][0], 50_000)],
    ]
    return steps
