"""Per-peer dial timeout: the first attempt is cut at `dial_timeout` so a hung dial
does not delay the next one for long; each attempt cut by its timeout doubles that
peer's next timeout up to `max_dial_timeout`, so a host whose handshakes take longer
than the first timeout (a loaded machine) still connects; a connection resets it."""
from __future__ import annotations

MAX_TRACKED = 2048  # peers with a raised timeout; beyond, all are forgotten (they restart at the first)


class DialBackoff:
    def __init__(self, first: float, cap: float) -> None:
        if not 0 < first <= cap:
            raise ValueError("need 0 < dial_timeout <= max_dial_timeout")
        self.first = first
        self.cap = cap
        self._raised: dict[str, float] = {}

    def timeout(self, peer: str) -> float:
        return self._raised.get(peer, self.first)

    def timed_out(self, peer: str) -> None:
        if peer not in self._raised and len(self._raised) >= MAX_TRACKED:
            self._raised.clear()
        self._raised[peer] = min(self.timeout(peer) * 2, self.cap)

    def connected(self, peer: str) -> None:
        self._raised.pop(peer, None)
