"""`attrchain init` and `attrchain keys add|list|show`."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from node.cli.cli_types import DEFAULT_HOME, fail
from node.cli.keyring_options import KeyringChoice, keyring_options
from node.cli.sealed_key import PassphraseError
from node.config import Config, ConfigError
from node.home import DEFAULT_BALANCE, DEFAULT_STAKE, init_home, make_genesis, write_genesis
from node.keys import KeyError_, encode_address


@click.command("init")
@click.option("--home", "home_dir", type=click.Path(path_type=Path), default=DEFAULT_HOME,
              show_default=True, help="node home directory")
@click.option("--moniker", required=True, help="a human-readable name for this node")
@click.option("--chain-id", default="attrchain-local", show_default=True)
@click.option("--overwrite", is_flag=True, help="rewrite config and genesis (keys are kept)")
@keyring_options
def init_command(home_dir: Path, moniker: str, chain_id: str, overwrite: bool,
                 keyring: KeyringChoice) -> None:
    """Create a node home: config, genesis (this node the only validator), keys, data dir.
    The operator's account key goes in the keyring of --keyring-backend, which the config keeps."""
    try:
        cfg = Config()
        cfg.keyring.backend = keyring.backend or cfg.keyring.backend
        home = init_home(home_dir, moniker, config=cfg, overwrite=overwrite)
        vkey = home.validator_key()
        ring = keyring.open(home.root)
        operator = ring.get(moniker) if moniker in ring.names() else ring.add(moniker)
        doc = make_genesis(chain_id, int(time.time() * 1000),
                           [(vkey.pub_key, operator.address, DEFAULT_STAKE, moniker)],
                           [(operator.address, DEFAULT_BALANCE)])
        write_genesis(home, doc)
    except (FileExistsError, ConfigError, KeyError_, ValueError) as e:
        fail(str(e))
    click.echo(json.dumps({
        "home": str(home.root), "moniker": moniker, "chain_id": chain_id,
        "validator_pubkey": vkey.pub_key.hex(), "operator": encode_address(operator.address),
        "config": str(home.config_file),
    }, indent=2))


@click.group("keys")
def keys_group() -> None:
    """Account keys: <home>/keyring (plaintext) or <home>/keyring-file (encrypted), files 0600."""


def home_option(f):
    f = keyring_options(f)
    return click.option("--home", "home_dir", type=click.Path(path_type=Path),
                        default=DEFAULT_HOME, show_default=True)(f)


def _echo_key(name: str, key) -> None:
    """One account key as JSON: its name, address and public key (never the seed)."""
    click.echo(json.dumps({"name": name, "address": encode_address(key.address),
                           "pub_key": key.pub_key.hex()}))


@keys_group.command("add")
@click.argument("name")
@home_option
def keys_add(name: str, home_dir: Path, keyring: KeyringChoice) -> None:
    """Create a new account key NAME."""
    try:
        k = keyring.open(home_dir).add(name)
    except (KeyError_, ConfigError) as e:
        fail(str(e))
    _echo_key(name, k)


@keys_group.command("list")
@home_option
def keys_list(home_dir: Path, keyring: KeyringChoice) -> None:
    """List account keys."""
    try:
        ring = keyring.open(home_dir)
    except ConfigError as e:
        fail(str(e))
    for name in ring.names():
        try:
            click.echo(f"{name}\t{encode_address(ring.get(name).address)}")
        except PassphraseError as e:  # the same for every key: stop at the first
            fail(str(e))
        except KeyError_ as e:
            click.echo(f"{name}\t<unreadable: {e}>")


@keys_group.command("show")
@click.argument("name")
@home_option
def keys_show(name: str, home_dir: Path, keyring: KeyringChoice) -> None:
    """Show an account key's address and public key (never the private key)."""
    try:
        k = keyring.open(home_dir).get(name)
    except (KeyError_, ConfigError) as e:
        fail(str(e))
    _echo_key(name, k)
