"""Signature checks spread over threads.

PyNaCl releases the GIL inside `crypto_sign_open`, so k threads verify k signatures at
once: a node on a many-core machine is not bound to one core for the ~20 % of its work
that is signature checks (docs/bench.md). Only decode + stateless checks + signature run
in the pool; which txs are admitted, and in what order, is still decided on the node's
thread, one tx after the other (determinism unchanged). Small batches stay inline: handing
work to a thread costs more than one check.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from state.errors import TxError
from state.tx import SignedTx, decode_tx, validate_basic, verify_signature

MIN_PARALLEL = 16  # txs; below this the batch is checked inline
MAX_THREADS = 8


def auto_threads() -> int:
    """One thread per core beyond the node's own, at most MAX_THREADS; 1 = inline."""
    return max(1, min(MAX_THREADS, (os.cpu_count() or 1) - 1))


def check_one(raw: bytes, chain_id: str, max_tx_bytes: int, min_fee: int) -> SignedTx | None:
    """The stateless part of admission; None if the tx fails it (the caller's own check
    then says why)."""
    try:
        stx = decode_tx(raw, max_tx_bytes)
        validate_basic(stx, chain_id, min_fee)
        verify_signature(stx)
    except TxError:
        return None
    return stx


class SignaturePool:
    def __init__(self, threads: int):
        self.threads = threads
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="sigcheck") if threads > 1 else None

    def check(self, raws: list[bytes], chain_id: str, max_tx_bytes: int, min_fee: int) -> list[SignedTx | None]:
        """`check_one` of each tx, in order; blocks until all are done."""
        if self._pool is None or len(raws) < MIN_PARALLEL:
            return [check_one(r, chain_id, max_tx_bytes, min_fee) for r in raws]
        step = -(-len(raws) // self.threads)
        chunks = [raws[i:i + step] for i in range(0, len(raws), step)]
        done = self._pool.map(lambda c: [check_one(r, chain_id, max_tx_bytes, min_fee) for r in c], chunks)
        return [stx for part in done for stx in part]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
