"""broadcast_tx_commit callers waiting for their tx to be committed.

Several callers may wait for the same tx (a client retrying, two clients relaying one
tx): they share one event and are all woken by its commit. The number of waiting
callers is bounded; past it a new caller is refused at once (`TooManyWaiters`) rather
than holding a connection and memory for up to its timeout.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import trio

DEFAULT_MAX_WAITERS = 1000


class TooManyWaiters(Exception):
    pass


class TxWaiters:
    def __init__(self, max_waiters: int = DEFAULT_MAX_WAITERS) -> None:
        self.max_waiters = max_waiters
        self.events: dict[bytes, trio.Event] = {}
        self.callers: dict[bytes, int] = {}    # tx id -> callers waiting on its event
        self.waiting = 0

    @contextmanager
    def wait_for(self, tx_id: bytes) -> Iterator[trio.Event]:
        """The event set when `tx_id` commits, held for the duration of the block."""
        if self.waiting >= self.max_waiters:
            raise TooManyWaiters(f"{self.waiting} callers already wait for commits (rpc.max_commit_waiters)")
        event = self.events.setdefault(tx_id, trio.Event())
        self.callers[tx_id] = self.callers.get(tx_id, 0) + 1
        self.waiting += 1
        try:
            yield event
        finally:
            self.waiting -= 1
            left = self.callers.pop(tx_id) - 1
            if left:
                self.callers[tx_id] = left
            else:  # nobody waits for this tx any more
                self.events.pop(tx_id, None)

    def committed(self, tx_ids) -> None:
        for t in tx_ids:
            ev = self.events.pop(t, None)
            if ev is not None:
                ev.set()
