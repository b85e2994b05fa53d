"""Transactions gossiped in batches.

Gossip costs ~2.6 ms of CPU per message per node whatever its size, so single
transactions are never gossiped: `submit()` buffers them and a flusher publishes one
`TxBatch` every `flush_interval` (~50 ms) or as soon as `max_batch_bytes` is reached.
On receive, batches are decoded defensively (a bad batch penalises its sender) and each
transaction is delivered once, deduplicated by its id. The id is the ledger's (state.tx.tx_id,
passed in as `tx_id=`): one definition of a tx id, which this layer cannot import.

    async with open_tx_gossip(transport, topics.txs, tx_id=tx_id) as txs:
        txs.submit(tx_bytes)                      # after the local mempool accepted it
        async for received in txs.received:       # ReceivedTx(tx_id, tx, source), each once
            ...
    # open_tx_gossip(..., batched=True): `received` yields tuples of ReceivedTx, one per
    # gossip message -- one channel hop per batch instead of per tx (half the CPU).
    # open_tx_gossip(..., check_tx=fn): fn(tx) -> bool, the node's stateless check
    # (decode + signature). It runs on every not-yet-seen tx of a batch before the batch
    # is delivered or relayed; one failing tx refuses the whole batch and penalises the
    # peer that forwarded it ("invalid"), so invalid txs are never relayed.
    # open_tx_gossip(..., precheck=fn): fn(txs) sees those txs all at once first (the
    # node checks their signatures over several threads; check_tx then finds them done).
"""
from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable, NamedTuple

import trio

from .messages import MAX_TX_SIZE, MessageError, TxBatch
from .transport import Gossip, PeerId, Transport

TxCheck = Callable[[bytes], bool]
TxId = Callable[[bytes], bytes]
TxPrecheck = Callable[[list[bytes]], None]


class ReceivedTx(NamedTuple):
    """One per received tx: a NamedTuple, half the cost of a frozen dataclass."""
    tx_id: bytes
    tx: bytes
    source: PeerId


class SeenIds:
    """A bounded set: forgets the oldest ids first (dicts keep insertion order)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._ids: dict[bytes, None] = {}

    def add(self, key: bytes) -> bool:
        """True if the id was new."""
        if key in self._ids:
            return False
        self._ids[key] = None
        if len(self._ids) > self.capacity:
            del self._ids[next(iter(self._ids))]
        return True

    def __contains__(self, key: bytes) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)


class TxGossip:
    def __init__(self, transport: Transport, topic: str, *, tx_id: TxId, flush_interval: float = 0.05,
                 max_batch_bytes: int = 128 * 1024, max_pending_bytes: int = 16 * 1024 * 1024,
                 seen_capacity: int = 1_000_000, delivery_buffer: int | None = None,
                 batched: bool = False, check_tx: TxCheck | None = None,
                 precheck: TxPrecheck | None = None) -> None:
        self.transport = transport
        self.tx_id = tx_id
        self.check_tx = check_tx
        self.precheck = precheck
        self.topic = topic
        self.flush_interval = flush_interval
        self.max_batch_bytes = max_batch_bytes
        self.max_pending_bytes = max_pending_bytes
        self.seen = SeenIds(seen_capacity)
        self.counters = transport.counters
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._has_pending = trio.Event()
        self._batch_full = trio.Event()
        # batched=False: each item is one ReceivedTx. batched=True: each item is a tuple
        # of ReceivedTx, the new txs of one received batch (half the receive CPU).
        self.batched = batched
        if delivery_buffer is None:
            delivery_buffer = 4096 if batched else 100_000
        self._deliver, self.received = trio.open_memory_channel(delivery_buffer)

    # --- sending ---
    def submit(self, tx: bytes, known_id: bytes | None = None) -> bool:
        """Queue a transaction for gossip. False if it was already seen or the outbound
        buffer is full (counted as drops.tx_pending_full). `known_id`: its id, if the
        caller computed it (saves hashing it again)."""
        if len(tx) > MAX_TX_SIZE:
            raise ValueError(f"too_large: tx of {len(tx)} bytes > {MAX_TX_SIZE}")
        if self._pending_bytes + len(tx) > self.max_pending_bytes:
            self.counters.drop("tx_pending_full")
            return False
        if not self.seen.add(self.tx_id(tx) if known_id is None else known_id):
            return False
        self._pending.append(tx)
        self._pending_bytes += len(tx) + 3  # + msgpack bin header
        self._has_pending.set()
        if self._pending_bytes >= self.max_batch_bytes:
            self._batch_full.set()
        return True

    def _take_batch(self) -> list[bytes]:
        size, count = 8, 0
        for tx in self._pending:
            if count and size + len(tx) + 3 > self.max_batch_bytes:
                break
            size += len(tx) + 3
            count += 1
        batch, self._pending = self._pending[:count], self._pending[count:]
        self._pending_bytes -= size - 8
        return batch

    async def run_flusher(self) -> None:
        # Only this task replaces the events it waits on, and it re-checks the condition
        # after each wake: `flush()` (a proposer's, before its proposal) once replaced them
        # while this task waited on the old one, which nothing set again, so a node's txs
        # then left only at its next proposal (docs/bench.md "The stranded tx flusher").
        while True:
            while not self._pending:
                self._has_pending = trio.Event()
                await self._has_pending.wait()
            self._batch_full = trio.Event()
            if self._pending_bytes < self.max_batch_bytes:
                with trio.move_on_after(self.flush_interval):
                    await self._batch_full.wait()
            await self.flush()

    async def flush(self) -> None:
        """Publish everything pending now (several batches if needed)."""
        while self._pending:
            batch = self._take_batch()
            if not await self.transport.publish(self.topic, TxBatch(tuple(batch)).encode()):
                self.counters.drop("tx_batch_dropped")
                self.counters.drop("tx_dropped", len(batch))

    # --- receiving ---
    def check_batch(self, source: PeerId, batch: TxBatch) -> str | None:
        """The topic's GossipCheck: every tx we have not seen must pass `check_tx`
        before the batch goes any further (seen ones passed it already)."""
        if self.check_tx is None:
            return None
        seen, tx_id = self.seen, self.tx_id
        unseen = [tx for tx in batch.txs if tx_id(tx) not in seen]
        if self.precheck is not None:
            self.precheck(unseen)
        for tx in unseen:
            if not self.check_tx(tx):
                return "invalid"
        return None

    async def run_receiver(self, channel: trio.MemoryReceiveChannel[Gossip]) -> None:
        async for gossip in channel:
            self.handle_batch(gossip.source, gossip.payload)

    def handle_batch(self, source: PeerId, payload: bytes) -> None:
        try:
            batch = TxBatch.decode(payload, max_size=len(payload))
        except MessageError as err:
            self.counters.drop(f"bad_tx_batch.{err.code}")
            self.transport.penalise(source, err.code)
            return
        fresh = []
        for tx in batch.txs:
            key = self.tx_id(tx)
            if self.seen.add(key):
                fresh.append(ReceivedTx(key, tx, source))
        if len(fresh) < len(batch.txs):
            self.counters.drop("duplicate_tx", len(batch.txs) - len(fresh))
        if not fresh:
            return
        if self.batched:
            # One channel item per batch: a channel hop per tx costs more CPU than
            # the rest of the receive path.
            try:
                self._deliver.send_nowait(tuple(fresh))
            except trio.WouldBlock:
                self.counters.drop("tx_delivery_full", len(fresh))
            return
        for i, received in enumerate(fresh):
            try:
                self._deliver.send_nowait(received)
            except trio.WouldBlock:
                self.counters.drop("tx_delivery_full", len(fresh) - i)
                return


@asynccontextmanager
async def open_tx_gossip(transport: Transport, topic: str, **options) -> AsyncIterator[TxGossip]:
    gossip = TxGossip(transport, topic, **options)
    channel = await transport.subscribe(topic, check=None if gossip.check_tx is None else gossip.check_batch)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(gossip.run_flusher)
        nursery.start_soon(gossip.run_receiver, channel)
        try:
            yield gossip
        finally:
            nursery.cancel_scope.cancel()
