"""A node's home directory, laid out as CometBFT does:

    <home>/config/config.toml            settings (commented defaults)
    <home>/config/genesis.json           the chain's genesis
    <home>/config/node_key.json          libp2p identity (0600)
    <home>/config/priv_validator_key.json  consensus key (0600)
    <home>/data/                         state db, WAL, last-signed record
    <home>/keyring/                      account keys, `test` backend (plaintext, 0600 each)
    <home>/keyring-file/                 account keys, `file` backend (sealed, 0600 each)
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from node.config import Config, load_config, save_config
from node.keys import KeyPair, Keyring, load_key, save_key


@dataclass(frozen=True)
class Home:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def genesis_file(self) -> Path:
        return self.config_dir / "genesis.json"

    @property
    def node_key_file(self) -> Path:
        return self.config_dir / "node_key.json"

    @property
    def validator_key_file(self) -> Path:
        return self.config_dir / "priv_validator_key.json"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def state_db(self) -> Path:
        return self.data_dir / "state.db"

    @property
    def wal_file(self) -> Path:
        return self.data_dir / "cs.wal"

    @property
    def last_sign_file(self) -> Path:
        return self.data_dir / "priv_validator_state.json"

    def keyring_dir(self, backend: str) -> Path:
        return self.root / ("keyring" if backend == "test" else f"keyring-{backend}")

    @property
    def keyring(self) -> Keyring:
        """The plaintext (`test` backend) keyring; node/cli/keyring_options.py picks a backend."""
        return Keyring(self.keyring_dir("test"))

    def load_config(self) -> Config:
        return load_config(self.config_file)

    def node_key(self) -> KeyPair:
        return load_key(self.node_key_file)

    def validator_key(self) -> KeyPair:
        return load_key(self.validator_key_file)

    def load_genesis_doc(self) -> dict:
        try:
            return json.loads(self.genesis_file.read_text())
        except FileNotFoundError:
            raise ValueError(f"{self.genesis_file}: no genesis (run `attrchain init`)") from None
        except ValueError as e:
            raise ValueError(f"{self.genesis_file}: not JSON ({e})") from None


DEFAULT_STAKE = 100_000_000          # 100 OPEN bonded -> voting power 100
DEFAULT_BALANCE = 1_000_000_000_000  # 1,000,000 OPEN


def init_home(root: Path, moniker: str, *, config: Config | None = None,
              overwrite: bool = False) -> Home:
    """Create config, keys and data dir; keeps existing keys (never regenerates an identity)."""
    home = Home(root)
    if home.config_file.exists() and not overwrite:
        raise FileExistsError(f"{home.config_file} exists; use another --home or --overwrite")
    home.config_dir.mkdir(parents=True, exist_ok=True)
    home.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(home.data_dir, 0o700)
    cfg = config or Config()
    cfg.node.moniker = moniker
    save_config(home.config_file, cfg)
    if not home.node_key_file.exists():
        save_key(home.node_key_file, KeyPair.generate(), "node")
    if not home.validator_key_file.exists():
        save_key(home.validator_key_file, KeyPair.generate(), "validator")
    return home


def make_genesis(chain_id: str, genesis_time_ms: int,
                 validators: list[tuple[bytes, bytes, int, str]],
                 balances: list[tuple[bytes, int]], params: dict | None = None) -> dict:
    """genesis.json content, checked by the ledger's `Genesis` (validators: consensus
    pubkey, operator address, stake, moniker)."""
    from state.genesis import Genesis, GenesisValidator
    from state.params import Params

    g = Genesis(chain_id, genesis_time_ms, tuple(balances),
                tuple(GenesisValidator(pk, op, stake) for pk, op, stake, _ in validators),
                Params.from_json(params or {}))
    g.check()
    doc = g.to_json()
    for v, (_, _, _, moniker) in zip(doc["validators"], validators):
        v["moniker"] = moniker  # informational; the ledger ignores it
    return doc


def write_genesis(home: Home, doc: dict) -> None:
    home.genesis_file.write_text(json.dumps(doc, indent=2) + "\n")
