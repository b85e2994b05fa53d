"""The running node (docs/interfaces.md, docs/node.md): the composition root (node.py) and
the runner (run.py); the consensus task, its executor ports and push receiver; the gossip
receivers, proposal assembly and tx intake; the mempool and its checker; the chain and its
block cache; catch-up, serving peers, state sync, snapshots and pruning; the WAL and the
sign store (durable.py, core.py). What the RPC and the light server may use of it is
listed here."""
from node.runtime.chain import Chain
from node.runtime.consensus_api import ConsensusView
from node.runtime.durable import atomic_write
from node.runtime.mempool import Mempool, TxRejected
from node.runtime.metrics import NodeMetrics
from node.runtime.tx_intake import TxIntake

__all__ = ["Chain", "ConsensusView", "atomic_write", "Mempool", "TxRejected", "NodeMetrics", "TxIntake"]
