"""The records a block writes beside its state (not merkleized): the block, its id, its tx
results, the tx index, the validator set of height+2 and the last block.

This module owns their keys (state/keys.py) and encodings: the ledger writes them with
the block's state in one batch (`block_records`), reads them back decoded (the getters
`Ledger` exposes), a state sync writes what a node restored at a height needs to go on
(`restored_records`), and pruning deletes what the heights it forgets wrote
(`prune_heights`). Nothing outside state/ names a record key.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator, NamedTuple

from state.block import Block
from state.codec import decode_value, encode_value
from state.keys import (
    LAST_BLOCK_RECORD,
    block_id_record_key,
    block_record_key,
    results_record_key,
    tx_record_key,
    valset_record_key,
)
from state.tx import tx_id

if TYPE_CHECKING:
    from consensus.types import ValidatorSet
    from state.store import Store


class TxRecord(NamedTuple):
    """Where a committed tx is and how it ended."""
    height: int
    index: int          # in its block
    code: int           # 0: executed
    log: str


class LastBlock(NamedTuple):
    """The last committed block; (0, 0, b"") before the first."""
    height: int
    time_ms: int
    block_id: bytes


# --- writing ---------------------------------------------------------------------------------
def _valsets(first_height: int, sets: Iterable["ValidatorSet"]) -> dict[bytes, bytes]:
    return {valset_record_key(first_height + i): vs.encode() for i, vs in enumerate(sets)}


def _last_block(height: int, time_ms: int, block_id: bytes) -> dict[bytes, bytes]:
    return {LAST_BLOCK_RECORD: encode_value([height, time_ms, block_id])}


def genesis_records(first: ValidatorSet, second: ValidatorSet) -> dict[bytes, bytes]:
    """The validator sets of heights 1 and 2, written with the genesis state."""
    return _valsets(1, (first, second))


def block_records(block: Block, block_id: bytes, results, after_next: ValidatorSet) -> dict[bytes, bytes]:
    """What committing `block` writes beside its state. `results`: its txs' results in
    block order (each with `tx_id`, `code`, `log`); `after_next`: the set of height+2."""
    height = block.header.height
    records = {
        block_record_key(height): block.encode(),
        block_id_record_key(height): block_id,
        results_record_key(height): encode_value([[int(r.code), r.log] for r in results]),
        **_valsets(height + 2, (after_next,)),
        **_last_block(height, block.header.time_ms, block_id),
    }
    for i, r in enumerate(results):
        records[tx_record_key(r.tx_id)] = encode_value([height, i, int(r.code), r.log])
    return records


def restored_records(height: int, time_ms: int, block_id: bytes,
                     valsets: tuple[ValidatorSet, ValidatorSet, ValidatorSet]) -> dict[bytes, bytes]:
    """What a ledger restored at `height` from a snapshot needs to go on as if it had
    committed that block: the validator sets of height..height+2 and the last block."""
    return {**_valsets(height, valsets), **_last_block(height, time_ms, block_id)}


# --- reading ---------------------------------------------------------------------------------
def read_last_block(store: "Store") -> LastBlock:
    raw = store.get_record(LAST_BLOCK_RECORD)
    return LastBlock(0, 0, b"") if raw is None else LastBlock(*decode_value(raw))


def read_block(store: "Store", height: int) -> bytes | None:
    """The encoded block committed at `height` (as peers are served it)."""
    return store.get_record(block_record_key(height))


def read_tx(store: "Store", tx: bytes) -> TxRecord | None:
    raw = store.get_record(tx_record_key(tx))
    return None if raw is None else TxRecord(*decode_value(raw))


def read_validator_set(store: "Store", height: int) -> ValidatorSet | None:
    from consensus.types import ValidatorSet
    raw = store.get_record(valset_record_key(height))
    return None if raw is None else ValidatorSet.decode(raw)


# --- pruning ---------------------------------------------------------------------------------
def _height_record_keys(store: "Store", heights: range) -> Iterator[bytes]:
    """The record keys these heights wrote: block, id, results, validator set, and the tx
    index entries of the block's txs (an entry only if it still points at that height)."""
    for h in heights:
        raw = read_block(store, h)
        if raw is not None:
            for tid in map(tx_id, Block.decode(raw).txs):
                rec = read_tx(store, tid)
                if rec is not None and rec.height == h:
                    yield tx_record_key(tid)
        yield block_record_key(h)
        yield block_id_record_key(h)
        yield results_record_key(h)
        yield valset_record_key(h)


def prune_heights(store: "Store", retain: int) -> dict[str, int]:
    """Forget every height below `retain`: the state versions only they reach and the
    records they wrote, in one synced batch (`Store.prune`); returns what was deleted."""
    return store.prune(retain, _height_record_keys(store, range(store.base, retain)))
