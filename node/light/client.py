"""The light client: a verified header chain (node/light/headers.py) and what is proven
against it -- txs included, accounts and keys of the state -- and tx submission.

    client = LightClient(chain_id, provider, TrustedStore(dir))
    await client.init_trusted(height, header_hash)    # or init_genesis(genesis)
    lb = await client.verify_to()                     # latest, by skipping (1/3 trust)
    acct = await client.account(address)              # balance proven against header H+1
    res = await client.submit_and_prove(tx)           # submitted, included, proven
"""
from __future__ import annotations

from dataclasses import dataclass

import trio

from node.light.errors import ProviderError, VerificationError
from node.light.headers import HeaderChain
from node.light.proofs import StateProof, TxInclusionProof, verify_state_proof, verify_tx_inclusion
from node.light.provider import SubmitResult
from node.light.rpc_provider import decode_account
from node.light.types import LightBlock
from state import proof_keys
from state.block import compute_data_hash
from state.simple_merkle import merkle_proof
from state.tx import tx_id as compute_tx_id


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


class LightClient(HeaderChain):
    """Every answer of the provider checked against a header of the verified chain."""

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

    async def _prove(self, key: bytes, height: int, p: StateProof) -> ProvenValue:
        """`p` verified against header p.height + 1, and about `key` at `height`: a valid
        proof of another key, or of the same key at another height (a stale balance),
        proves nothing about the one asked (a provider is not trusted)."""
        if p.key != key:
            raise VerificationError("wrong_key", f"node proved key {p.key.hex()}, not the key "
                                                 f"asked for ({key.hex()})")
        if p.height != height:
            raise VerificationError("wrong_height", f"node proved the state at height {p.height}, "
                                                    f"not at {height} as asked")
        if self.store.get(p.height + 1) is None:
            await self.wait_for_height(p.height + 1)
        nxt = await self.verify_to(p.height + 1)
        verify_state_proof(nxt.header, p)
        return ProvenValue(p.key, p.value, p.height, nxt.header.app_hash)

    async def query_key(self, key: bytes, height: int | None = None) -> ProvenValue:
        h = await self._state_height(height)
        return await self._prove(key, h, await self.provider.state_proof(key, h))

    async def account(self, address: bytes, height: int | None = None) -> ProvenAccount:
        h = await self._state_height(height)
        a = await self.provider.account(address, h)
        proven = await self._prove(proof_keys.account(address), h, a.proof)
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
