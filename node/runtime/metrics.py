"""Prometheus metrics of one node (own registry, so tests can run many nodes in a process),
and the figures /status shows (uptime, txs committed since start, time since the last commit)."""
from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest


class NodeMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.height = Gauge("attrchain_height", "last committed height", registry=r)
        self.round = Gauge("attrchain_round", "current consensus round", registry=r)
        self.block_interval = Gauge("attrchain_block_interval_seconds",
                                    "time between the last two commits", registry=r)
        self.committed_txs = Counter("attrchain_committed_txs", "txs in committed blocks", registry=r)
        self.mempool_size = Gauge("attrchain_mempool_size", "txs in the mempool", registry=r)
        self.mempool_bytes = Gauge("attrchain_mempool_bytes", "bytes in the mempool", registry=r)
        self.peers = Gauge("attrchain_peers", "connected peers", registry=r)
        self.gossip_drops = Counter("attrchain_gossip_drops", "inbound messages dropped "
                                    "(malformed, full buffer, invalid)", ["reason"], registry=r)
        self.rejected_txs = Counter("attrchain_rejected_txs", "txs refused at admission",
                                    ["reason"], registry=r)
        self.rpc_errors = Counter("attrchain_rpc_errors", "RPC requests answered 4xx",
                                  ["status"], registry=r)
        self.started_at = time.monotonic()
        self.total_txs = 0                          # in blocks committed since start
        self.last_commit_time: float | None = None  # monotonic

    def block_committed(self, height: int, txs: int) -> None:
        now = time.monotonic()
        if self.last_commit_time is not None:
            self.block_interval.set(now - self.last_commit_time)
        self.last_commit_time = now
        self.total_txs += txs
        self.committed_txs.inc(txs)
        self.height.set(height)

    def uptime_s(self) -> float:
        return time.monotonic() - self.started_at

    def since_last_commit_s(self) -> float:
        return time.monotonic() - (self.last_commit_time or self.started_at)

    def attach_transport(self, counters) -> None:
        """Export the transport's own counters (drops by reason, traffic) at scrape time."""
        self.registry.register(_TransportCollector(counters))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _TransportCollector:
    def __init__(self, counters) -> None:
        self.counters = counters

    def collect(self):
        from prometheus_client.core import CounterMetricFamily
        drops = CounterMetricFamily("attrchain_p2p_drops", "messages the transport dropped, by reason",
                                    labels=["reason"])
        for reason, n in sorted(self.counters.drops.items()):
            drops.add_metric([reason], n)
        yield drops
        penalties = CounterMetricFamily("attrchain_p2p_penalties", "penalties given to peers, by reason "
                                        "(banned: peers banned)", labels=["reason"])
        for reason, n in sorted(self.counters.penalties.items()):
            penalties.add_metric([reason], n)
        yield penalties
        by_kind = CounterMetricFamily("attrchain_p2p_messages_in_by_kind", "gossip messages delivered, "
                                      "by topic (txs, proposals, votes, evidence)", labels=["kind"])
        for kind, n in sorted(self.counters.messages_in_by_kind.items()):
            by_kind.add_metric([kind], n)
        yield by_kind
        for name in ("messages_in", "messages_out", "bytes_in", "bytes_out", "requests_in",
                     "requests_out", "reconnects"):
            yield CounterMetricFamily(f"attrchain_p2p_{name}", f"transport {name}",
                                      value=getattr(self.counters, name))
