"""The text of config.toml: TOML with a comment over every section and key (CometBFT
habit), so an operator reads what each value does where they change it. A key without
a comment here cannot be rendered: adding a config field means saying what it is for."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from node.config import Config

COMMENTS: dict[str, str] = {
    "node": "This node",
    "node.moniker": "a human-readable name, shown in status and logs",
    "node.log_level": "one of debug, info, warning, error (logs are one JSON object per line)",
    "p2p": "Peer-to-peer network (libp2p: Noise + Yamux over TCP)",
    "p2p.listen": "multiaddr the node listens on",
    "p2p.persistent_peers": "peers to stay connected to: multiaddrs ending in /p2p/<peer id>",
    "p2p.redial_interval_ms": "how often a lost persistent peer is redialled",
    "p2p.dial_timeout_ms": "a dial attempt is cut after this; each cut doubles that peer's next timeout (reset when it connects)",
    "p2p.max_dial_timeout_ms": "the cap a peer's doubled dial timeout grows to (>= dial_timeout_ms)",
    "p2p.validator_full_mesh": "every validator lists every other as a persistent peer: a message from its origin is not relayed to the other validators (fewer duplicate deliveries)",
    "p2p.pex": "peer exchange: answer peers' address requests, learn and dial peers (off on a sentried validator)",
    "p2p.max_peers": "peer exchange dials learned peers while fewer than this are connected",
    "p2p.seeds": "multiaddrs ending in /p2p/<peer id> to learn peers from (dialled, not kept like persistent peers)",
    "p2p.private_peer_ids": "peer ids never given out by peer exchange (a sentry lists its validator here)",
    "rpc": "HTTP JSON RPC (OpenAPI document at /openapi.json, Prometheus at /metrics)",
    "rpc.listen": "host:port the RPC server binds",
    "rpc.max_body_bytes": "largest request body accepted",
    "rpc.broadcast_tx_commit_timeout_ms": "how long broadcast_tx_commit waits for inclusion",
    "rpc.body_timeout_ms": "a request body must have arrived within this (else 408)",
    "rpc.max_batch_txs": "most txs in one /broadcast_txs_sync request (else 413)",
    "rpc.max_commit_waiters": "most broadcast_tx_commit calls waiting at once (else 503)",
    "rpc.allowed_origins": "browser origins (scheme://host[:port]) allowed to broadcast; \"*\" = any (see docs/security.md)",
    "consensus": "Tendermint timeouts; round r waits timeout + r * delta",
    "consensus.timeout_propose_ms": "wait for a proposal",
    "consensus.timeout_propose_delta_ms": "added per round",
    "consensus.timeout_prevote_ms": "wait after +2/3 prevotes for anything",
    "consensus.timeout_prevote_delta_ms": "added per round",
    "consensus.timeout_precommit_ms": "wait after +2/3 precommits for anything",
    "consensus.timeout_precommit_delta_ms": "added per round",
    "consensus.timeout_commit_ms": "pause after a commit before the next height (block interval)",
    "mempool": "Pending transactions",
    "mempool.max_txs": "most txs held; when full the lowest fee is evicted",
    "mempool.max_bytes": "most bytes held",
    "mempool.max_tx_bytes": "largest single tx accepted",
    "mempool.block_max_txs": "most txs a proposer puts in one block",
    "mempool.block_max_bytes": "most tx bytes a proposer puts in one block",
    "mempool.gossip_batch_interval_ms": "how often pending new txs are gossiped as one batch",
    "storage": "What the node keeps on disk (docs/operating.md, Pruning)",
    "storage.keep_recent": "heights of state and blocks kept; 0 = everything (archive node), else >= 2",
    "storage.prune_max_heights": "most heights pruned after one block (an old chain catches up gradually)",
    "storage.compact_interval": "pruned heights between LevelDB compactions of the pruned tables",
    "storage.snapshot_interval": "take a state snapshot every this many heights for peers' state sync; 0 = none",
    "storage.snapshot_keep": "snapshots kept (the oldest is deleted)",
    "statesync": "Join from a peer's snapshot instead of replaying every block (docs/operating.md)",
    "statesync.enable": "on an empty home: fetch, verify and restore a snapshot, then block-sync the rest",
    "statesync.trust_height": "a height you trust (as the light client takes it); the snapshot must be above it",
    "statesync.trust_hash": "the block id (hex) at trust_height, from a source you trust",
    "mempool.signature_threads": "threads checking the signatures of a tx batch (RPC or gossip); 0 = one per core beyond the node's own, at most 8; 1 = inline",
    "keyring": "Account keys used by `keys`, `tx` and `light tx` with this home",
    "keyring.backend": "file: sealed under a passphrase in <home>/keyring-file; test: plaintext in <home>/keyring",
}


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot render {v!r}")


def render_config(cfg: Config) -> str:
    """TOML text with a comment over every section and key."""
    out = ["# attrchain node configuration. Every key is optional; shown values are in use.", ""]
    for section, values in cfg.to_dict().items():
        out.append(f"# {COMMENTS[section]}")
        out.append(f"[{section}]")
        for key, value in values.items():
            out.append(f"# {COMMENTS[f'{section}.{key}']}")
            out.append(f"{key} = {_toml_value(value)}")
        out.append("")
    return "\n".join(out)
