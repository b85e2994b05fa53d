"""Peer exchange (PEX): who we answer with, what we accept, whom we dial next.

A PEX request is empty; the answer is a msgpack array of `[peer id, multiaddr]` pairs,
at most MAX_ANSWER of them: peers we have dialled successfully at that address (so
never an address we merely heard of), never a private peer, never the asker. Every
answer is hostile input: its size, count, string lengths, peer id alphabet and
multiaddr shape (ip4/ip6/dns + tcp port, no /p2p/ of another peer) are checked before
anything is stored; a bad answer raises MessageError and the transport penalises the
peer that sent it. The book is bounded (MAX_BOOK addresses); an address that fails
MAX_DIAL_FAILURES dials in a row is forgotten (a persistent peer comes back
when its redial succeeds).

Pure bookkeeping (no I/O, no libp2p): p2p/libp2p_transport.py serves and asks.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Iterable

import msgpack
import multiaddr

from .messages import MessageError

MAX_ANSWER = 32  # addresses in one answer
MAX_ADDR_LEN = 200  # characters of one multiaddr
MAX_ANSWER_BYTES = MAX_ANSWER * (MAX_ADDR_LEN + 64 + 8) + 16
MAX_BOOK = 1000  # addresses a node keeps
MAX_DIAL_FAILURES = 3
_PEER_ID = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,64}$")  # base58, as 12D3KooW... / Qm...
_HOST_PROTOCOLS = ("ip4", "ip6", "dns4", "dns6", "dns")
_UNSPECIFIED = ("0.0.0.0", "::")


def check_peer_address(peer: object, addr: object) -> str:
    """The dialable form `<addr>/p2p/<peer>` of one answered pair, or MessageError."""
    if type(peer) is not str or not _PEER_ID.match(peer):
        raise MessageError("bad_field", "peer id is not a base58 peer id")
    if type(addr) is not str or not addr.startswith("/") or len(addr) > MAX_ADDR_LEN:
        raise MessageError("bad_field", f"address is not a multiaddr of at most {MAX_ADDR_LEN} characters")
    try:
        parts = [(p.name, v) for p, v in _components(multiaddr.Multiaddr(addr))]
    except Exception:  # noqa: BLE001 -- multiaddr raises several types
        raise MessageError("bad_field", "address does not parse as a multiaddr") from None
    names = [name for name, _ in parts]
    if len(parts) < 2 or names[0] not in _HOST_PROTOCOLS or names[1] != "tcp":
        raise MessageError("bad_field", "address must be <ip4|ip6|dns>/<host>/tcp/<port>")
    if parts[0][1] in _UNSPECIFIED or not 0 < int(parts[1][1]) < 65536:
        raise MessageError("bad_field", "address has no dialable host or port")
    if len(parts) > 3 or (len(parts) == 3 and parts[2] != ("p2p", peer)):
        raise MessageError("bad_field", "address carries more than a host, a port and its own peer id")
    base = addr if len(parts) == 2 else addr[: addr.rindex("/p2p/")]
    return f"{base}/p2p/{peer}"


def _components(addr: multiaddr.Multiaddr):
    for proto in addr.protocols():
        try:
            value = addr.value_for_protocol(proto.code)
        except Exception:  # noqa: BLE001 -- a protocol without a value
            value = ""
        yield proto, value


def encode_answer(entries: Iterable[tuple[str, str]]) -> bytes:
    return msgpack.packb([[peer, addr] for peer, addr in entries], use_bin_type=True)


def decode_answer(data: bytes) -> list[tuple[str, str]]:
    """Checked `(peer id, dialable multiaddr with /p2p/)` pairs of an answer."""
    if len(data) > MAX_ANSWER_BYTES:
        raise MessageError("too_large", f"PEX answer of {len(data)} bytes > {MAX_ANSWER_BYTES}")
    try:
        obj = msgpack.unpackb(data, raw=False, max_array_len=MAX_ANSWER, max_map_len=0,
                              max_str_len=MAX_ADDR_LEN, max_bin_len=0, max_ext_len=0)
    except Exception:  # noqa: BLE001 -- msgpack raises several types
        raise MessageError("malformed", "PEX answer is not a msgpack array") from None
    if type(obj) is not list:
        raise MessageError("malformed", "PEX answer is not an array")
    out = []
    for entry in obj:
        if type(entry) is not list or len(entry) != 2:
            raise MessageError("malformed", "PEX entry is not a [peer id, multiaddr] pair")
        out.append((entry[0], check_peer_address(*entry)))
    return out


@dataclass
class PeerBook:
    """Addresses known to this node (`peer id -> dialable multiaddr`) and which of them
    were dialled successfully. `private` ids are never answered nor stored."""

    local_peer: str
    private: frozenset[str] = frozenset()
    max_size: int = MAX_BOOK
    addrs: dict[str, str] = field(default_factory=dict)
    good: set[str] = field(default_factory=set)
    failures: dict[str, int] = field(default_factory=dict)

    def add(self, peer: str, addr: str) -> bool:
        """Remember an address; False when it is ours, private, known, or the book is full."""
        if peer == self.local_peer or peer in self.private or peer in self.addrs or len(self.addrs) >= self.max_size:
            return False
        self.addrs[peer] = addr
        return True

    def dialled(self, peer: str, addr: str, ok: bool) -> None:
        """A dial of `addr` ended: good on success; forgotten after MAX_DIAL_FAILURES in a row."""
        if ok:
            self.add(peer, addr)  # a persistent peer forgotten after failures comes back
            if peer in self.addrs:
                self.good.add(peer)
            self.failures.pop(peer, None)
            return
        self.failures[peer] = self.failures.get(peer, 0) + 1
        if self.failures[peer] >= MAX_DIAL_FAILURES:
            self.forget(peer)

    def forget(self, peer: str) -> None:
        self.addrs.pop(peer, None)
        self.good.discard(peer)
        self.failures.pop(peer, None)

    def answer(self, asker: str, exclude: Iterable[str] = (), limit: int = MAX_ANSWER) -> list[tuple[str, str]]:
        """Up to `limit` good addresses, a random choice, never private ones or the asker's."""
        skip = set(exclude) | {asker}
        eligible = sorted(p for p in self.good if p in self.addrs and p not in self.private and p not in skip)
        chosen = random.sample(eligible, min(limit, len(eligible)))
        return [(p, self.addrs[p].rsplit("/p2p/", 1)[0]) for p in chosen]

    def to_dial(self, connected: Iterable[str], dialling: Iterable[str], room: int) -> list[tuple[str, str]]:
        """At most `room` known addresses of peers neither connected nor being dialled."""
        busy = set(connected) | set(dialling)
        return [(p, a) for p, a in self.addrs.items() if p not in busy][: max(0, room)]


class PexPacer:
    """How long the PEX loop waits before its next round: `base` after a round that
    learned or dialled an address, twice the last wait after one that did neither, up to
    `ceiling` (a settled network stops asking every few seconds); a lost peer brings it
    back to `base` (room to fill)."""

    def __init__(self, base: float, ceiling: float) -> None:
        self.base, self.ceiling = base, ceiling
        self.wait = base

    def after_round(self, learned: int, dialled: int) -> float:
        self.wait = self.base if learned or dialled else min(2 * self.wait, self.ceiling)
        return self.wait

    def peer_lost(self) -> float:
        self.wait = self.base
        return self.wait
