"""The light client's verified header chain: trust one header, then verify any other.

Verification is CometBFT's: adjacent headers must be signed by the set the previous one
announced; a skip needs > trust level (1/3) of the trusted set's power among its signers,
else the chain bisects (verifies a header half-way and tries again). Headers below a
trusted one are verified backwards by hash links (`last_block_id`). Witnesses (other full
nodes) must hold the very block the primary served before it is kept.
"""
from __future__ import annotations

import time
from fractions import Fraction
from typing import Callable

import trio

from node.light import verifier
from node.light.errors import ProviderError, VerificationError
from node.light.provider import Provider
from node.light.store import TrustedStore
from node.light.types import DEFAULT_TRUST_LEVEL, LightBlock, check_trust_level

# The trusted header must be younger than this. It must stay below the unbonding time,
# so validators that signed it still have stake at risk: genesis has unbonding_blocks =
# 1,000, about 1,000 s at a local testnet's pace; 2/3 of that, as CometBFT advises.
DEFAULT_TRUSTING_PERIOD_MS = 666_000
DEFAULT_MAX_CLOCK_DRIFT_MS = 10_000


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class HeaderChain:
    """The headers verified from a trust anchor, kept in `store`; `verify_to(h)` extends it."""

    def __init__(self, chain_id: str, provider: Provider, store: TrustedStore | None = None, *,
                 trust_level: Fraction = DEFAULT_TRUST_LEVEL,
                 trusting_period_ms: int = DEFAULT_TRUSTING_PERIOD_MS,
                 max_clock_drift_ms: int = DEFAULT_MAX_CLOCK_DRIFT_MS,
                 sequential: bool = False, clock: Callable[[], int] = wall_clock_ms,
                 witnesses: list[Provider] = ()):
        self.chain_id = chain_id
        self.provider = provider
        self.store = store if store is not None else TrustedStore()
        self.trust_level = check_trust_level(trust_level)
        self.trusting_period_ms = trusting_period_ms
        self.max_clock_drift_ms = max_clock_drift_ms
        self.sequential = sequential
        self.clock = clock
        self.fetched = 0          # light blocks fetched (how many a skip saved is visible)
        # other full nodes asked for the same header (CometBFT's detector): a fork signed
        # by more than 1/3 of a trusted set verifies, but cannot hide from an honest witness
        self.witnesses = list(witnesses)
        self.witness_errors: list[str] = []

    # ------------------------------------------------------------------ fetching
    async def fetch(self, height: int) -> LightBlock:
        """A light block from the provider, NOT verified. A provider that sends only the
        header and commit gets the set from our store when we hold one with that hash."""
        sh = await self.provider.signed_header(height)
        self.fetched += 1
        if sh.header.height != height:
            raise ProviderError("bad_response", f"asked for height {height}, got {sh.header.height}")
        vs = sh.validators or self.store.validators_by_hash(sh.header.validators_hash)
        if vs is None:
            raise ProviderError("validators_unavailable",
                                f"{self.provider.name} sent no validator set for height {height} "
                                "and its hash is not one we trust")
        return LightBlock(sh.header, sh.commit, vs)

    # ------------------------------------------------------------------ trust anchors
    async def init_trusted(self, height: int, header_hash: bytes) -> LightBlock:
        """Trust the header at `height` whose id (sha256 of the header) is `header_hash`:
        the one thing a user must get from a source they trust."""
        lb = await self.fetch(height)
        if lb.id() != header_hash:
            raise VerificationError("trusted_hash_mismatch",
                                    f"header {height} served has hash {lb.id().hex()}, "
                                    f"not the trusted {header_hash.hex()}")
        verifier.verify_light_block(lb, self.chain_id)
        verifier.check_trusted_fresh(lb, self.clock(), self.trusting_period_ms)
        self.store.save(lb)
        return lb

    async def init_genesis(self, genesis) -> LightBlock:
        """Trust header 1 if it is signed by the genesis validator set of our chain."""
        if genesis.chain_id != self.chain_id:
            raise VerificationError("wrong_chain", f"genesis is of chain {genesis.chain_id!r}")
        lb = await self.fetch(1)
        verifier.verify_light_block(lb, self.chain_id)
        if lb.header.validators_hash != genesis.initial_validator_set().hash():
            raise VerificationError("genesis_mismatch",
                                    "header 1 is not signed by the genesis validator set")
        if lb.header.last_block_id != b"":
            raise VerificationError("genesis_mismatch", "header 1 has a previous block")
        verifier.check_trusted_fresh(lb, self.clock(), self.trusting_period_ms)
        self.store.save(lb)
        return lb

    # ------------------------------------------------------------------ headers
    def _verify(self, trusted: LightBlock, untrusted: LightBlock) -> None:
        verifier.verify(trusted, untrusted, self.chain_id, now_ms=self.clock(),
                        trusting_period_ms=self.trusting_period_ms,
                        max_clock_drift_ms=self.max_clock_drift_ms, trust_level=self.trust_level)

    async def verify_to(self, height: int | None = None) -> LightBlock:
        """The verified light block at `height` (default: the provider's latest)."""
        if height is None:
            height = await self.provider.latest_height()
        if height < 1:
            raise ProviderError("height_not_available", "no block committed yet")
        have = self.store.get(height)
        if have is not None:
            return have
        trusted = self.store.latest()
        if height < trusted.height:
            return await self._verify_backwards(height)
        if self.sequential:
            trace = await self._verify_sequential(trusted, height)
        else:
            trace = await self._verify_skipping(trusted, height)
        await self._compare_with_witnesses(trace[-1])
        self.store.save(*trace)          # only now: nothing a witness contradicts is kept
        return trace[-1]

    async def _compare_with_witnesses(self, lb: LightBlock) -> None:
        """Every witness must have the very same block at that height. A witness that
        cannot answer is noted and skipped (it may be behind); one that differs stops us."""
        for w in self.witnesses:
            try:
                sh = await w.signed_header(lb.height)
            except ProviderError as e:
                self.witness_errors.append(f"{w.name}: {e}")
                continue
            if sh.header.id() != lb.id():
                raise VerificationError(
                    "conflicting_headers",
                    f"witness {w.name} has block {sh.header.id().hex()[:16]} at height {lb.height}, "
                    f"primary {self.provider.name} has {lb.id().hex()[:16]}: a fork signed by "
                    "trusted validators (light client attack) or a lying node; trust neither")

    async def _verify_sequential(self, trusted: LightBlock, height: int) -> list[LightBlock]:
        trace = []
        for h in range(trusted.height + 1, height + 1):
            lb = await self.fetch(h)
            self._verify(trusted, lb)
            trace.append(lb)
            trusted = lb
        return trace

    async def _verify_skipping(self, trusted: LightBlock, height: int) -> list[LightBlock]:
        """CometBFT's verifySkipping: try the target from the newest verified block; when
        too little of the trusted set signed it, fetch the block half-way and try that
        first. Blocks fetched for pivots are kept and retried before fetching more.
        Returns the trace: every block verified on the way, the target last."""
        cache = [await self.fetch(height)]
        depth = 0
        verified = trusted
        trace: list[LightBlock] = []
        while True:
            candidate = cache[depth]
            try:
                self._verify(verified, candidate)
            except verifier.NotEnoughTrust:
                if depth == len(cache) - 1:
                    pivot = verified.height + (candidate.height - verified.height) // 2
                    cache.append(await self.fetch(pivot))
                depth += 1
                continue
            trace.append(candidate)
            if depth == 0:
                return trace
            verified = candidate
            cache = cache[:depth]
            depth = 0

    async def _verify_backwards(self, height: int) -> LightBlock:
        """A header below a trusted one is verified by hash links: header h+1 names the id
        of block h (last_block_id), so a verified h+1 vouches for h."""
        above = self.store.nearest_above(height)
        assert above is not None
        for h in range(above.height - 1, height - 1, -1):
            lb = await self.fetch(h)
            if lb.id() != above.header.last_block_id:
                raise VerificationError("broken_chain",
                                        f"header {h} is not the block verified header "
                                        f"{above.height} builds on (last_block_id)")
            verifier.verify_light_block(lb, self.chain_id)
            above = lb
        self.store.save(above)
        return above

    async def wait_for_height(self, height: int, timeout_s: float = 15.0, poll_s: float = 0.1) -> int:
        """Wait until the provider has committed `height` (the state after H is proven by
        header H+1, which exists one block later)."""
        with trio.move_on_after(timeout_s):
            while True:
                latest = await self.provider.latest_height()
                if latest >= height:
                    return latest
                await trio.sleep(poll_s)
        raise ProviderError("timeout", f"{self.provider.name} did not reach height {height} "
                            f"within {timeout_s:g} s")
