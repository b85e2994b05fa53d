"""Counters the node exports to Prometheus. Plain integers in a dataclass; `snapshot()`
gives a flat dict[str, int] (drops and penalties by reason as `drops.<reason>`)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class TransportCounters:
    messages_in: int = 0  # gossip messages delivered to subscribers
    messages_out: int = 0  # gossip messages handed to the network
    bytes_in: int = 0
    bytes_out: int = 0
    requests_in: int = 0
    requests_out: int = 0
    peers_connected: int = 0  # connect events seen
    peers_disconnected: int = 0
    reconnects: int = 0  # persistent peers connected again after a loss
    dials_failed: int = 0  # redial attempts that failed (a peer that is down)
    pex_learned: int = 0  # addresses learned by peer exchange
    backpressure_ms: int = 0  # time publishes waited for the library's peer queues
    messages_in_by_kind: Counter = field(default_factory=Counter)  # txs/proposals/votes/evidence -> count
    drops: Counter = field(default_factory=Counter)  # reason -> count
    penalties: Counter = field(default_factory=Counter)  # reason -> count

    def drop(self, reason: str, n: int = 1) -> None:
        self.drops[reason] += n

    def snapshot(self) -> dict[str, int]:
        out = {
            name: getattr(self, name)
            for name in (
                "messages_in", "messages_out", "bytes_in", "bytes_out", "requests_in",
                "requests_out", "peers_connected", "peers_disconnected", "reconnects", "dials_failed", "pex_learned", "backpressure_ms",
            )
        }
        out.update({f"messages_in.{k}": v for k, v in sorted(self.messages_in_by_kind.items())})
        out.update({f"drops.{k}": v for k, v in sorted(self.drops.items())})
        out.update({f"penalties.{k}": v for k, v in sorted(self.penalties.items())})
        out["drops_total"] = sum(self.drops.values())
        out["penalties_total"] = sum(self.penalties.values())
        return out
