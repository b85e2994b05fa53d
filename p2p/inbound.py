"""Admission of inbound connections, before and after the handshake.

Before the Noise handshake a connection has no peer id, only a source address, so it is
bounded by address: at most `per_host` handshakes in progress from one address and
`max_pending` in all, each timed out fast by the transport. Addresses of our persistent
peers have their own pool (`reserved_pending`), which strangers cannot fill. After the
handshake the peer id is known: validators and persistent peers always stay; other peers
are kept while fewer than `max_peers` of them are connected.

Pure bookkeeping (no I/O, no libp2p): p2p/libp2p_transport.py calls it around the
library's inbound upgrade.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable


class InboundGate:
    def __init__(self, reserved_hosts: Iterable[str] = (), *, max_pending: int = 64, per_host: int = 8,
                 reserved_pending: int = 32, max_peers: int = 128) -> None:
        self.reserved_hosts = frozenset(reserved_hosts)
        self.max_pending = max_pending
        self.per_host = per_host
        self.reserved_pending = reserved_pending
        self.max_peers = max_peers
        self._pending: Counter[str] = Counter()
        self._pending_total = 0  # handshakes from addresses that are not reserved
        self._pending_reserved = 0

    def open(self, host: str | None) -> bool:
        """A handshake from `host` wants to start: True = go (then call `close` when it
        ends, whichever way), False = refuse it now."""
        key = host or "?"
        if key in self.reserved_hosts:
            if self._pending_reserved >= self.reserved_pending:
                return False
            self._pending_reserved += 1
        else:
            if self._pending_total >= self.max_pending or self._pending[key] >= self.per_host:
                return False
            self._pending_total += 1
        self._pending[key] += 1
        return True

    def close(self, host: str | None) -> None:
        key = host or "?"
        if self._pending[key] <= 0:
            return
        self._pending[key] -= 1
        if not self._pending[key]:
            del self._pending[key]
        if key in self.reserved_hosts:
            self._pending_reserved -= 1
        else:
            self._pending_total -= 1

    def pending(self, host: str | None = None) -> int:
        return self._pending_total + self._pending_reserved if host is None else self._pending.get(host, 0)

    def keeps_peer(self, reserved: bool, other_peers_connected: int) -> bool:
        """After the handshake: a reserved peer always stays; another one while fewer
        than `max_peers` other peers are connected (not counting itself)."""
        return reserved or other_peers_connected < self.max_peers
