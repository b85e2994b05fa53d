"""Transports and message codecs: the Transport interface, its in-memory implementation,
the admission policy of what peers send, the wire messages, tx gossip, peer exchange.
What node/ may use of it is listed here; node/ imports it from whichever module defines it
(tests/test_layering.py checks both). The libp2p transport is the sub-package
p2p.libp2p_transport, which `import p2p` does not load. p2p/ uses neither node/ nor state/."""
from p2p.config import P2PConfig
from p2p.ids import (
    BLOCKS,
    LIGHT_BLOCK,
    PROOF,
    SNAPSHOT_CHUNK,
    SNAPSHOT_MANIFEST,
    SNAPSHOTS,
    STATUS,
    SUBMIT_TX,
    ChainTopics,
    check_chain_id,
)
from p2p.memory import MemoryNetwork, open_memory_network
from p2p.messages import (
    MAX_BLOCKS_PER_REQUEST,
    MAX_ITEM_SIZE,
    MAX_LOG,
    MAX_MANIFEST_BYTES,
    MAX_PUSHED_PROPOSALS,
    MAX_SNAPSHOT_CHUNKS,
    MAX_SNAPSHOT_OFFERS,
    BlocksRequest,
    BlocksResponse,
    ChunkRequest,
    ChunkResponse,
    CompactProposal,
    ConsensusPush,
    EvidenceMessage,
    LightBlockRequest,
    LightBlockResponse,
    ManifestRequest,
    ManifestResponse,
    Message,
    MessageError,
    ProofRequest,
    ProofResponse,
    SnapshotsRequest,
    SnapshotsResponse,
    Status,
    StatusRequest,
    SubmitTxRequest,
    SubmitTxResponse,
    TxsRequest,
    TxsResponse,
    VoteMessage,
    VotesRequest,
    VotesResponse,
)
from p2p.transport import IGNORE, MessageTooLarge, PeerId, RequestError, Transport
from p2p.tx_gossip import TxGossip, open_tx_gossip

__all__ = [
    # the transport interface, its config and its in-memory implementation
    "Transport", "PeerId", "RequestError", "MessageTooLarge", "IGNORE", "P2PConfig", "MemoryNetwork",
    "open_memory_network",
    # topic and protocol ids
    "ChainTopics", "check_chain_id", "BLOCKS", "LIGHT_BLOCK", "PROOF", "SNAPSHOTS", "SNAPSHOT_CHUNK",
    "SNAPSHOT_MANIFEST", "STATUS", "SUBMIT_TX",
    # the wire messages and their bounds
    "Message", "MessageError", "MAX_BLOCKS_PER_REQUEST", "MAX_ITEM_SIZE", "MAX_LOG", "MAX_MANIFEST_BYTES",
    "MAX_PUSHED_PROPOSALS", "ConsensusPush",
    "MAX_SNAPSHOT_CHUNKS", "MAX_SNAPSHOT_OFFERS", "BlocksRequest", "BlocksResponse", "ChunkRequest",
    "ChunkResponse", "CompactProposal", "EvidenceMessage", "LightBlockRequest", "LightBlockResponse",
    "ManifestRequest", "ManifestResponse", "ProofRequest", "ProofResponse", "SnapshotsRequest",
    "SnapshotsResponse", "Status", "StatusRequest", "SubmitTxRequest", "SubmitTxResponse", "TxsRequest",
    "TxsResponse", "VoteMessage", "VotesRequest", "VotesResponse",
    # transactions in gossip
    "TxGossip", "open_tx_gossip",
]
