"""The node's config file (`<home>/config/config.toml`): defaults, reading, validation.

The file is written with a comment over every key (node/config_render.py) and read back
with a strict check: an unknown section or key, a wrong type or an out-of-range value is
a `ConfigError` naming the key, so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.config_render import render_config


class ConfigError(ValueError):
    """The config file is missing, unparsable or holds a bad value (message names the key)."""


@dataclass
class NodeSection:
    moniker: str = "node"
    log_level: str = "info"


@dataclass
class P2PSection:
    listen: str = "/ip4/0.0.0.0/tcp/26656"
    persistent_peers: list[str] = field(default_factory=list)
    # how often the node redials a persistent peer it is not connected to
    redial_interval_ms: int = 1000
    # a dial is cut after this; each cut doubles that peer's next one up to the max
    dial_timeout_ms: int = 1000
    max_dial_timeout_ms: int = 10_000
    # every validator lists every other validator: relays among them are skipped
    validator_full_mesh: bool = False
    pex: bool = True
    max_peers: int = 50
    seeds: list[str] = field(default_factory=list)
    private_peer_ids: list[str] = field(default_factory=list)


@dataclass
class RPCSection:
    listen: str = "127.0.0.1:26657"
    max_body_bytes: int = 1_048_576
    broadcast_tx_commit_timeout_ms: int = 10_000
    body_timeout_ms: int = 10_000
    max_batch_txs: int = 1000
    max_commit_waiters: int = 1000
    allowed_origins: list[str] = field(default_factory=list)


@dataclass
class ConsensusSection:
    timeout_propose_ms: int = 3000
    timeout_propose_delta_ms: int = 500
    timeout_prevote_ms: int = 1000
    timeout_prevote_delta_ms: int = 500
    timeout_precommit_ms: int = 1000
    timeout_precommit_delta_ms: int = 500
    timeout_commit_ms: int = 1000


@dataclass
class MempoolSection:
    max_txs: int = 10_000
    max_bytes: int = 64 * 1024 * 1024
    max_tx_bytes: int = 64 * 1024
    block_max_txs: int = 5000
    block_max_bytes: int = 4 * 1024 * 1024
    gossip_batch_interval_ms: int = 100
    signature_threads: int = 0  # 0 = one per core beyond the node's own (at most 8)


KEYRING_BACKENDS = ("file", "test")


@dataclass
class KeyringSection:
    backend: str = "test"


@dataclass
class StorageSection:
    keep_recent: int = 0
    prune_max_heights: int = 16
    compact_interval: int = 1000
    snapshot_interval: int = 0
    snapshot_keep: int = 2


@dataclass
class StateSyncSection:
    enable: bool = False
    trust_height: int = 0
    trust_hash: str = ""


@dataclass
class Config:
    node: NodeSection = field(default_factory=NodeSection)
    p2p: P2PSection = field(default_factory=P2PSection)
    rpc: RPCSection = field(default_factory=RPCSection)
    consensus: ConsensusSection = field(default_factory=ConsensusSection)
    mempool: MempoolSection = field(default_factory=MempoolSection)
    storage: StorageSection = field(default_factory=StorageSection)
    statesync: StateSyncSection = field(default_factory=StateSyncSection)
    keyring: KeyringSection = field(default_factory=KeyringSection)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


LOG_LEVELS = ("debug", "info", "warning", "error")


def _check_type(name: str, expected: Any, value: Any) -> None:
    origin = getattr(expected, "__origin__", None)
    if expected is bool or expected == "bool":
        ok = isinstance(value, bool)
    elif expected is int or expected == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is str or expected == "str":
        ok = isinstance(value, str)
    elif origin is list or str(expected).startswith("list"):
        ok = isinstance(value, list) and all(isinstance(x, str) for x in value)
    else:
        ok = True
    if not ok:
        raise ConfigError(f"{name}: expected {expected if isinstance(expected, str) else getattr(expected, '__name__', expected)}, got {type(value).__name__} {value!r}")


# keys `attrchain init` once wrote that no code reads any more: skipped, so older homes start
RETIRED_KEYS = frozenset({"consensus.create_empty_blocks", "mempool.gossip_batch_max_txs"})


def config_from_dict(data: dict[str, Any]) -> Config:
    cfg = Config()
    sections = {f.name: f for f in dataclasses.fields(Config)}
    for section, values in data.items():
        if section not in sections:
            raise ConfigError(f"unknown section [{section}] (known: {', '.join(sections)})")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table")
        target = getattr(cfg, section)
        known = {f.name: f for f in dataclasses.fields(target)}
        for key, value in values.items():
            if f"{section}.{key}" in RETIRED_KEYS:
                continue
            if key not in known:
                raise ConfigError(f"unknown key {section}.{key} (known: {', '.join(known)})")
            _check_type(f"{section}.{key}", known[key].type, value)
            setattr(target, key, value)
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    if cfg.node.log_level not in LOG_LEVELS:
        raise ConfigError(f"node.log_level: must be one of {', '.join(LOG_LEVELS)}, got {cfg.node.log_level!r}")
    if cfg.keyring.backend not in KEYRING_BACKENDS:
        raise ConfigError(f"keyring.backend: must be one of {', '.join(KEYRING_BACKENDS)}, got {cfg.keyring.backend!r}")
    if not cfg.node.moniker or len(cfg.node.moniker) > 64:
        raise ConfigError("node.moniker: must be 1..64 characters")
    if not 0 <= cfg.mempool.signature_threads <= 64:
        raise ConfigError(f"mempool.signature_threads: must be 0..64, got {cfg.mempool.signature_threads}")
    if not cfg.p2p.listen.startswith("/"):
        raise ConfigError(f"p2p.listen: not a multiaddr: {cfg.p2p.listen!r}")
    from p2p.libp2p_transport import check_addresses  # libp2p loads only when a config is checked
    try:
        check_addresses(cfg.p2p.listen, cfg.p2p.persistent_peers, seeds=cfg.p2p.seeds)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    for p in cfg.p2p.private_peer_ids:
        if not isinstance(p, str) or not 32 <= len(p) <= 64 or not p.isalnum():
            raise ConfigError(f"p2p.private_peer_ids: {p!r} is not a peer id (12D3KooW...)")
    if cfg.p2p.pex and cfg.p2p.max_peers == 0:
        raise ConfigError("p2p.max_peers: must be > 0 with pex on")
    _validate_dial_timeouts(cfg.p2p)
    host, _, port = cfg.rpc.listen.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"rpc.listen: expected host:port, got {cfg.rpc.listen!r}")
    for section in ("rpc", "consensus", "mempool", "p2p", "storage", "statesync"):
        for f in dataclasses.fields(getattr(cfg, section)):
            v = getattr(getattr(cfg, section), f.name)
            if isinstance(v, int) and not isinstance(v, bool) and v < 0:
                raise ConfigError(f"{section}.{f.name}: must be >= 0, got {v}")
    for name in ("body_timeout_ms", "max_batch_txs", "max_commit_waiters"):
        if getattr(cfg.rpc, name) == 0:
            raise ConfigError(f"rpc.{name}: must be > 0")
    for name in ("max_txs", "max_bytes", "max_tx_bytes", "block_max_txs", "block_max_bytes"):
        if getattr(cfg.mempool, name) == 0:
            raise ConfigError(f"mempool.{name}: must be > 0")
    if cfg.mempool.max_tx_bytes > cfg.mempool.block_max_bytes:
        raise ConfigError("mempool.max_tx_bytes: larger than block_max_bytes, such a tx could never be included")
    _validate_storage(cfg.storage, cfg.statesync)


def _validate_dial_timeouts(p2p: P2PSection) -> None:
    for name in ("dial_timeout_ms", "max_dial_timeout_ms"):
        if getattr(p2p, name) <= 0:
            raise ConfigError(f"p2p.{name}: must be > 0, got {getattr(p2p, name)}")
    if p2p.dial_timeout_ms > p2p.max_dial_timeout_ms:
        raise ConfigError(f"p2p.dial_timeout_ms: {p2p.dial_timeout_ms} is above "
                          f"p2p.max_dial_timeout_ms {p2p.max_dial_timeout_ms} (the cap it doubles up to)")


def _validate_storage(st: StorageSection, ss: StateSyncSection) -> None:
    if st.keep_recent == 1:
        raise ConfigError("storage.keep_recent: 0 (everything) or >= 2 (the last block and its commit)")
    for name in ("prune_max_heights", "compact_interval", "snapshot_keep"):
        if getattr(st, name) == 0:
            raise ConfigError(f"storage.{name}: must be > 0")
    if ss.enable:
        if ss.trust_height < 1:
            raise ConfigError("statesync.trust_height: must be >= 1 when state sync is enabled")
        try:
            ok = len(bytes.fromhex(ss.trust_hash)) == 32
        except ValueError:
            ok = False
        if not ok:
            raise ConfigError("statesync.trust_hash: must be 64 hex characters (a block id)")


def load_config(path: Path) -> Config:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no config file (run `attrchain init --home ...` first)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    try:
        return config_from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def save_config(path: Path, cfg: Config) -> None:
    validate(cfg)
    path.write_text(render_config(cfg))
