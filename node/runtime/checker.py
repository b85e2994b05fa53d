"""The mempool's admission checks, backed by the ledger.

`verify` does the stateless part and the signature (once per tx, ever); `check_state`
runs the ledger's check_tx with the signature skipped, which applies the tx (ante and
kind) to the ledger's admission context (committed state + txs admitted since), so a
sender may queue nonces n, n+1, ...; `recheck` applies only the ante of a tx admitted
before the last commit. The context is rebuilt after a commit (by the ledger) and after
an eviction (here), since an evicted tx's effects must not linger in it.
"""
from __future__ import annotations

import itertools

import trio

from state.app import Ledger
from state.errors import TxError
from state.tx import SignedTx, decode_tx, tx_id, validate_basic, verify_signature

from node.runtime.mempool import PendingTx, TxRejected
from node.runtime.sig_pool import MIN_PARALLEL, SignaturePool


def code_name(code) -> str:
    return code.name.lower() if hasattr(code, "name") else str(code)


DECODED_CACHE_SIZE = 100_000


class LedgerChecker:
    def __init__(self, ledger: Ledger, signature_threads: int = 1):
        self.ledger = ledger
        # tx id -> SignedTx that passed decode + signature here: check_state, the recheck
        # after each commit and block execution reuse it instead of decoding again.
        # Bounded: when full, the older half goes (a miss only costs a decode).
        self.decoded: dict[bytes, SignedTx] = {}
        self.signatures = SignaturePool(signature_threads)

    def _remember(self, stx: SignedTx) -> None:
        if len(self.decoded) >= DECODED_CACHE_SIZE:
            for k in list(itertools.islice(self.decoded, DECODED_CACHE_SIZE // 2)):
                del self.decoded[k]
        self.decoded[stx.id] = stx

    def verify(self, raw: bytes, known_id: bytes | None = None) -> PendingTx:
        """`known_id`: tx_id(raw), when our own code hashed these bytes already. Only a
        hint: a cached tx of other bytes is not taken (a wrong id costs a decode, no more)."""
        # checked already (e.g. when its gossip batch was vetted)?
        stx = self.decoded.get(tx_id(raw) if known_id is None else known_id)
        if stx is None or stx.raw != raw:
            try:
                stx = decode_tx(raw, self.ledger.params.max_tx_bytes)
                validate_basic(stx, self.ledger.chain_id, self.ledger.params.min_fee)
                verify_signature(stx)
            except TxError as e:
                raise TxRejected(code_name(e.code), e.message) from None
            self._remember(stx)
        return PendingTx(stx.id, raw, stx.sender, stx.tx.nonce, stx.tx.fee)

    # -- many txs at once: the signatures over the pool's threads (node/runtime/sig_pool.py);
    # `verify` then finds them checked. A tx that fails is left out: `verify` says why.
    def _unchecked(self, raws: list[bytes]) -> list[bytes]:
        return [r for r in raws if tx_id(r) not in self.decoded]

    def _check_args(self) -> tuple[str, int, int]:
        return self.ledger.chain_id, self.ledger.params.max_tx_bytes, self.ledger.params.min_fee

    def precheck(self, raws: list[bytes]) -> None:
        """Blocking (the gossip topic check is synchronous)."""
        for stx in self.signatures.check(self._unchecked(raws), *self._check_args()):
            if stx is not None:
                self._remember(stx)

    async def precheck_async(self, raws: list[bytes]) -> None:
        """The node's thread serves others meanwhile (RPC batches)."""
        todo = self._unchecked(raws)
        if len(todo) < MIN_PARALLEL or self.signatures.threads < 2:
            return  # `verify` checks them inline, one by one
        args = self._check_args()
        for stx in await trio.to_thread.run_sync(self.signatures.check, todo, *args):
            if stx is not None:
                self._remember(stx)

    def account_nonce(self, sender: bytes) -> int:
        return self.ledger.account(sender)[1]

    def check_state(self, tx: PendingTx) -> None:
        r = self.ledger.check_tx(tx.raw, verified=True, decoded=self.decoded.get(tx.tx_id))
        if not r.ok:
            raise TxRejected(code_name(r.code), r.log)

    def recheck(self, tx: PendingTx) -> None:
        """After a commit: the ante only (node/runtime/mempool.py "Recheck"); the signature and the
        kind were checked at admission."""
        stx = self.decoded.get(tx.tx_id)
        if stx is None or stx.raw != tx.raw:  # out of the bounded cache: decode only
            stx = decode_tx(tx.raw, self.ledger.params.max_tx_bytes)
            self._remember(stx)
        r = self.ledger.recheck_tx(stx)
        if not r.ok:
            raise TxRejected(code_name(r.code), r.log)

    def reset(self) -> None:
        self.ledger.reset_check_state()
