"""The light client: trusts a header once, then verifies everything a full node says.

    client = LightClient(chain_id, provider, TrustedStore(dir))
    await client.init_trusted(height, header_hash)    # or init_genesis(genesis)
    lb = await client.verify_to()                     # latest, by skipping (1/3 trust)
    acct = await client.account(address)              # balance proven against header H+1
    res = await client.submit_and_prove(tx)           # submitted, included, proven

Verification is CometBFT's: adjacent headers must be signed by the set the previous one
announced; a skip needs > trust level (1/3) of the trusted set's power among its signers,
else the client bisects (verifies a header half-way and tries again). Headers below a
trusted one are verified backwards by hash links (`last_block_id`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import trio

from node.light import verifier
from node.light.errors import ProviderError, VerificationError
from node.light.proofs import StateProof, TxInclusionProof, verify_state_proof, verify_tx_inclusion
from node.light.provider import Provider, SubmitResult
from node.light.rpc_provider import decode_account
from node.light.store import TrustedStore
from node.light.types import DEFAULT_TRUST_LEVEL, LightBlock, check_trust_level
from state.block import compute_data_hash
from state.simple_merkle import merkle_proof
from state.tx import tx_id as compute_tx_id

# The trusted header must be younger than this. It must stay below the unbonding time,
# so validators that signed it still have stake at risk: genesis has unbonding_blocks =
# 1,000, about 1,000 s at a local testnet's pace; 2/3 of that, as CometBFT advises.
DEFAULT_TRUSTING_PERIOD_MS = 666_000
DEFAULT_MAX_CLOCK_DRIFT_MS = 10_000


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class ProvenTx:
    tx_id: bytes
    height: int
    index: int
    proof: TxInclusionProof
    header: LightBlock


@dataclass(frozen=True)
class ProvenValue:
    key: bytes
    value: bytes | None
    height: int                 # the state after this block
    app_hash: bytes             # from verified header height + 1


@dataclass(frozen=True)
class ProvenAccount:
    address: bytes
    balance: int
    nonce: int
    proven: ProvenValue


class LightClient:
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

    # ------------------------------------------------------------------ proofs
    async def prove_tx(self, tx_id: bytes) -> ProvenTx | None:
        """The tx's inclusion, proven against a verified header; None if the node does
        not know it (not committed, or a node without a tx index)."""
        p = await self.provider.tx_proof(tx_id)
        if p is None:
            return None
        lb = await self.verify_to(p.height)
        verify_tx_inclusion(lb.header, tx_id, p)
        return ProvenTx(tx_id, p.height, p.index, p, lb)

    async def find_tx_in_blocks(self, tx_id: bytes, start: int, end: int) -> ProvenTx | None:
        """Scan blocks start..end for the tx (for providers without a tx index). The block
        holding it must carry txs whose root is its verified header's data_hash."""
        for block in await self.provider.blocks(start, end):
            ids = [compute_tx_id(t) for t in block.txs]
            if tx_id not in ids:
                continue
            lb = await self.verify_to(block.height)
            if lb.id() != block.id() or compute_data_hash(block.txs) != lb.header.data_hash:
                raise VerificationError("data_hash_mismatch",
                                        f"block {block.height} served does not match its verified header")
            index = ids.index(tx_id)
            p = TxInclusionProof(block.height, index, len(ids), tx_id,
                                 tuple(merkle_proof(ids, index)), block.txs[index])
            verify_tx_inclusion(lb.header, tx_id, p)
            return ProvenTx(tx_id, block.height, index, p, lb)
        return None

    async def wait_for_tx(self, tx_id: bytes, *, from_height: int, timeout_s: float,
                          poll_s: float = 0.2) -> ProvenTx:
        """Wait until the tx is committed, then prove it. Raises ProviderError("timeout")."""
        by_index = getattr(self.provider, "supports_tx_index", True)
        next_height = from_height
        with trio.move_on_after(timeout_s):
            while True:
                if by_index:
                    found = await self.prove_tx(tx_id)
                else:
                    latest = await self.provider.latest_height()
                    found = None
                    if latest >= next_height:
                        found = await self.find_tx_in_blocks(tx_id, next_height, latest)
                        next_height = latest + 1
                if found is not None:
                    return found
                await trio.sleep(poll_s)
        raise ProviderError("timeout", f"tx {tx_id.hex()} not committed within {timeout_s:g} s")

    async def _state_height(self, height: int | None) -> int:
        """Default query height: the newest state whose app hash is in a committed header."""
        if height is not None:
            return height
        latest = await self.provider.latest_height()
        if latest < 2:
            raise ProviderError("height_not_available", "need two committed blocks to prove state")
        return latest - 1

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

    async def _prove(self, p: StateProof) -> ProvenValue:
        if self.store.get(p.height + 1) is None:
            await self.wait_for_height(p.height + 1)
        nxt = await self.verify_to(p.height + 1)
        verify_state_proof(nxt.header, p)
        return ProvenValue(p.key, p.value, p.height, nxt.header.app_hash)

    async def query_key(self, key: bytes, height: int | None = None) -> ProvenValue:
        h = await self._state_height(height)
        p = await self.provider.state_proof(key, h)
        if p.key != key:
            raise VerificationError("wrong_key", "node proved another key")
        return await self._prove(p)

    async def account(self, address: bytes, height: int | None = None) -> ProvenAccount:
        h = await self._state_height(height)
        a = await self.provider.account(address, h)
        proven = await self._prove(a.proof)
        balance, nonce = decode_account(proven.value)
        for name, claimed, actual in (("balance", a.claimed_balance, balance),
                                      ("nonce", a.claimed_nonce, nonce)):
            if claimed is not None and claimed != actual:
                raise VerificationError("forged_value",
                                        f"node says {name} {claimed}, but the state proven "
                                        f"against verified header {h + 1} says {actual}")
        return ProvenAccount(address, balance, nonce, proven)

    # ------------------------------------------------------------------ transactions
    async def submit(self, tx: bytes) -> SubmitResult:
        return await self.provider.submit(tx)

    async def submit_and_prove(self, tx: bytes, timeout_s: float = 30.0) -> tuple[SubmitResult, ProvenTx]:
        """Submit, wait until committed, prove inclusion. A refused tx raises
        ProviderError with the node's refusal code."""
        start = await self.provider.latest_height()
        result = await self.submit(tx)
        if not result.accepted:
            raise ProviderError(result.code, f"node refused the tx: {result.log}")
        proven = await self.wait_for_tx(result.tx_id, from_height=start + 1, timeout_s=timeout_s)
        return result, proven
