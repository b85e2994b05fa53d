"""Prometheus metrics of one node (own registry, so tests can run many nodes in a process)."""
from __future__ import annotations

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

    def render(self) -> bytes:
        return generate_latest(self.registry)
