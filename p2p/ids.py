"""Topic and protocol ids. Every id carries the chain id and a version, so two chains
(or two incompatible releases) on the same peers never mix their traffic."""
from __future__ import annotations

import re
from dataclasses import dataclass

_CHAIN_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Gossip topics (publish/subscribe).
TXS = "txs"  # batches of transactions (TxBatch)
PROPOSALS = "proposals"  # compact proposals: header + tx ids (CompactProposal)
VOTES = "votes"  # prevotes and precommits (VoteMessage)
EVIDENCE = "evidence"  # duplicate-vote evidence (EvidenceMessage)
TOPIC_KINDS = (TXS, PROPOSALS, VOTES, EVIDENCE)

# Request/response protocols.
STATUS = "status"  # height, round, app hash
TXS_BY_ID = "txs-by-id"  # rebuild a compact proposal
BLOCKS = "blocks"  # blocks with their commits by height range (catch-up)
VOTES_OF_ROUND = "votes-of-round"  # the votes of a height and round (lost votes)
CONSENSUS_PUSH = "consensus-push"  # proposals and votes sent straight to a peer (re-gossip)
SUBMIT_TX = "submit-tx"  # light clients submit a transaction
LIGHT_BLOCK = "light-block"  # header + commit + validator set (light clients)
PROOF = "proof"  # a state value with its Merkle proof (light clients)
PEX = "pex"  # peer exchange: addresses of good peers (p2p/pex.py)
SNAPSHOTS = "snapshots"  # state sync: the snapshots a peer offers
SNAPSHOT_MANIFEST = "snapshot-manifest"  # state sync: one snapshot's manifest (chunk hashes)
SNAPSHOT_CHUNK = "snapshot-chunk"  # state sync: one chunk of a snapshot
PROTOCOL_KINDS = (STATUS, TXS_BY_ID, BLOCKS, VOTES_OF_ROUND, CONSENSUS_PUSH, SUBMIT_TX, LIGHT_BLOCK, PROOF, PEX,
                  SNAPSHOTS, SNAPSHOT_MANIFEST, SNAPSHOT_CHUNK)

VERSION = 1


def check_chain_id(chain_id: str) -> str:
    if not isinstance(chain_id, str) or not _CHAIN_ID.match(chain_id):
        raise ValueError(f"bad chain id {chain_id!r}: want 1-64 of [A-Za-z0-9._-]")
    return chain_id


def topic_id(chain_id: str, kind: str, version: int = VERSION) -> str:
    if kind not in TOPIC_KINDS:
        raise ValueError(f"unknown topic kind {kind!r}")
    return f"/attrchain/{check_chain_id(chain_id)}/{kind}/{version}"


def kind_of_topic(topic: str) -> str | None:
    """The kind of any chain's topic id (/attrchain/<chain>/<kind>/<version>), or None."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[1] != "attrchain" or parts[3] not in TOPIC_KINDS:
        return None
    return parts[3]


def protocol_id(chain_id: str, kind: str, version: int = VERSION) -> str:
    if kind not in PROTOCOL_KINDS:
        raise ValueError(f"unknown protocol kind {kind!r}")
    return f"/attrchain/{check_chain_id(chain_id)}/req/{kind}/{version}"


@dataclass(frozen=True)
class ChainTopics:
    """All ids of one chain, so callers never format strings by hand."""

    chain_id: str

    def __post_init__(self) -> None:
        check_chain_id(self.chain_id)

    @property
    def txs(self) -> str:
        return topic_id(self.chain_id, TXS)

    @property
    def proposals(self) -> str:
        return topic_id(self.chain_id, PROPOSALS)

    @property
    def votes(self) -> str:
        return topic_id(self.chain_id, VOTES)

    @property
    def evidence(self) -> str:
        return topic_id(self.chain_id, EVIDENCE)

    def protocol(self, kind: str) -> str:
        return protocol_id(self.chain_id, kind)

    def kind_of_topic(self, topic: str) -> str | None:
        for kind in TOPIC_KINDS:
            if topic == topic_id(self.chain_id, kind):
                return kind
        return None

    def kind_of_protocol(self, protocol: str) -> str | None:
        for kind in PROTOCOL_KINDS:
            if protocol == protocol_id(self.chain_id, kind):
                return kind
        return None
