"""The client over an in-memory provider: skipping with bisection across validator-set
changes, sequential mode, backwards verification, and lies met on the way."""
from __future__ import annotations

import dataclasses

import pytest

from chaingen import GENESIS_MS, MemoryProvider, key, rotating_chain, sign_commit, static_chain, valset
from node.light.client import LightClient
from node.light.errors import ProviderError, TrustError, VerificationError
from node.light.store import TrustedStore
from node.light.types import LightBlock

CHAIN = "light-test"


def client(chain, store=None, **kw) -> LightClient:
    now = GENESIS_MS + (max(chain.blocks) + 1) * 1000
    return LightClient(CHAIN, MemoryProvider(chain), store, clock=lambda: now,
                       trusting_period_ms=10_000_000, **kw)


async def test_static_set_skips_straight_to_the_target():
    c = static_chain(CHAIN, 50)
    lc = client(c)
    await lc.init_trusted(1, c.blocks[1].id())
    lb = await lc.verify_to()
    assert lb.height == 50 and lb.id() == c.blocks[50].id()
    assert lc.provider.asked == [1, 50]          # no header in between was needed


async def test_set_changes_make_the_client_bisect_and_follow_them():
    # one of four validators replaced every 4 heights: after 16 heights none of the
    # first set is left, so the client must verify headers in between
    c = rotating_chain(CHAIN, 40, rotate_every=4)
    lc = client(c)
    await lc.init_trusted(1, c.blocks[1].id())
    lb = await lc.verify_to(40)
    assert lb.id() == c.blocks[40].id()
    pivots = lc.provider.asked[2:]
    assert pivots and all(1 < h < 40 for h in pivots)
    assert len(lc.provider.asked) < 40 // 2      # far fewer than sequential
    # every saved block is verified: each consecutive pair in the trace shares > 1/3
    trace = sorted(lc.store.blocks)
    assert trace[0] == 1 and trace[-1] == 40 and len(trace) > 2
    for lo, hi in zip(trace, trace[1:]):
        shared = sum(v.voting_power for v in c.set_at(lo) if c.set_at(hi).get(v.address))
        assert 3 * shared > c.set_at(lo).total_power


async def test_full_rotation_every_height_is_followed_header_by_header():
    # the whole set replaced at every height: no skip is ever possible
    c = rotating_chain(CHAIN, 12, replace=4)
    lc = client(c)
    await lc.init_trusted(1, c.blocks[1].id())
    lb = await lc.verify_to(12)
    assert lb.id() == c.blocks[12].id()
    assert sorted(lc.store.blocks) == list(range(1, 13))


async def test_sequential_mode_fetches_every_header():
    c = rotating_chain(CHAIN, 20, rotate_every=3)
    lc = client(c, sequential=True)
    await lc.init_trusted(1, c.blocks[1].id())
    await lc.verify_to(20)
    assert lc.provider.asked == [1] + list(range(2, 21))


async def test_a_forged_pivot_stops_the_bisection_with_its_reason():
    c = rotating_chain(CHAIN, 30, rotate_every=2)
    lc = client(c)
    await lc.init_trusted(1, c.blocks[1].id())
    # the liar answers every header between with a commit that lacks 2/3 of its power
    for h in range(2, 30):
        lb = c.blocks[h]
        c.blocks[h] = LightBlock(lb.header, sign_commit(CHAIN, lb.header, c.keys_at(h)[:2]), lb.validators)
    with pytest.raises(VerificationError) as e:
        await lc.verify_to(30)
    assert e.value.code == "insufficient_power"
    assert max(lc.store.blocks) == 1             # nothing unverified was trusted


async def test_a_fork_signed_by_strangers_cannot_be_skipped_to():
    c = static_chain(CHAIN, 10)
    strangers = [key(f"s{i}") for i in range(4)]
    hd = dataclasses.replace(c.blocks[10].header, validators_hash=valset(strangers).hash(),
                             app_hash=bytes(32))
    c.blocks[10] = LightBlock(hd, sign_commit(CHAIN, hd, strangers), valset(strangers))
    lc = client(c)
    await lc.init_trusted(1, c.blocks[1].id())
    with pytest.raises(VerificationError) as e:
        await lc.verify_to(10)
    # bisection walks down to the adjacent header, which names the honest next set
    assert e.value.code in ("next_validators_mismatch",)


async def test_trusted_hash_must_match():
    c = static_chain(CHAIN, 3)
    lc = client(c)
    with pytest.raises(VerificationError) as e:
        await lc.init_trusted(2, c.blocks[1].id())
    assert e.value.code == "trusted_hash_mismatch"
    with pytest.raises(TrustError):
        await lc.verify_to(3)


async def test_backwards_by_hash_links_and_a_broken_link_is_refused():
    c = static_chain(CHAIN, 12)
    lc = client(c)
    await lc.init_trusted(12, c.blocks[12].id())
    lb = await lc.verify_to(5)
    assert lb.id() == c.blocks[5].id()
    c2 = static_chain(CHAIN, 12)
    forged = dataclasses.replace(c2.blocks[8].header, app_hash=bytes(32))
    c2.blocks[8] = LightBlock(forged, sign_commit(CHAIN, forged, c2.keys_at(8)), c2.blocks[8].validators)
    lc2 = client(c2)
    await lc2.init_trusted(12, c2.blocks[12].id())
    with pytest.raises(VerificationError) as e:
        await lc2.verify_to(3)
    assert e.value.code == "broken_chain"


async def test_store_persists_verified_blocks(tmp_path):
    c = rotating_chain(CHAIN, 20, rotate_every=4)
    lc = client(c, TrustedStore(tmp_path))
    await lc.init_trusted(1, c.blocks[1].id())
    await lc.verify_to(20)
    again = TrustedStore(tmp_path)
    assert again.latest().id() == c.blocks[20].id()
    assert set(again.blocks) == set(lc.store.blocks)
    (tmp_path / "trusted.bin").write_bytes(b"garbage")
    with pytest.raises(TrustError) as e:
        TrustedStore(tmp_path)
    assert e.value.code == "bad_trusted_store"


async def test_provider_without_sets_uses_trusted_sets_by_hash():
    c = static_chain(CHAIN, 6)
    lc = client(c)
    await lc.init_trusted(1, c.blocks[1].id())

    class HeadersOnly(MemoryProvider):
        async def signed_header(self, height):
            sh = await super().signed_header(height)
            return dataclasses.replace(sh, validators=None)

    lc.provider = HeadersOnly(c)
    assert (await lc.verify_to(6)).id() == c.blocks[6].id()
    r = rotating_chain(CHAIN, 6, replace=4)
    lr = client(r)
    await lr.init_trusted(1, r.blocks[1].id())
    lr.provider = HeadersOnly(r)
    with pytest.raises(ProviderError) as e:
        await lr.verify_to(6)
    assert e.value.code == "validators_unavailable"


def forked_by_trusted_validators(honest, fork_from: int):
    """The same validators sign a second chain from `fork_from` on (a light-client
    attack): every block of it verifies on its own and from the trusted header."""
    from chaingen import GenChain
    fork = GenChain(CHAIN, honest.sets)
    for h in sorted(honest.blocks):
        changes = {"app_hash": bytes([h % 256]) * 32} if h >= fork_from else {}
        hd = fork.header(h, **changes)
        fork.blocks[h] = LightBlock(hd, sign_commit(CHAIN, hd, fork.keys_at(h)), fork.set_at(h))
    return fork


async def test_a_witness_exposes_a_fork_signed_by_the_trusted_validators():
    honest = static_chain(CHAIN, 10)
    fork = forked_by_trusted_validators(honest, 5)
    assert fork.blocks[10].id() != honest.blocks[10].id()
    # alone, the client cannot tell: the fork is signed by the very set it trusts
    alone = client(fork)
    await alone.init_trusted(1, honest.blocks[1].id())
    assert (await alone.verify_to(10)).id() == fork.blocks[10].id()
    # with an honest witness it refuses, and keeps nothing of the fork
    watched = client(fork, witnesses=[MemoryProvider(honest)])
    await watched.init_trusted(1, honest.blocks[1].id())
    with pytest.raises(VerificationError) as e:
        await watched.verify_to(10)
    assert e.value.code == "conflicting_headers"
    assert sorted(watched.store.blocks) == [1]
    # a witness that agrees, and one that cannot answer, let it through
    behind = MemoryProvider(static_chain(CHAIN, 3))
    ok = client(honest, witnesses=[MemoryProvider(honest), behind])
    await ok.init_trusted(1, honest.blocks[1].id())
    assert (await ok.verify_to(10)).id() == honest.blocks[10].id()
    assert len(ok.witness_errors) == 1 and "not_found" in ok.witness_errors[0]
