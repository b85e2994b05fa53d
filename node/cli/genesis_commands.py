"""`attrchain genesis init|add-account|gentx|collect-gentxs|hash|peers`: the genesis
ceremony of operators who each run a validator on their own machine (node/cli/gentx.py)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import click

from node.cli.cli_types import DEFAULT_HOME, UINT, Uint, fail
from node.config import ConfigError, save_config
from node.cli.genesis_draft import GenesisError, add_account, draft_genesis, genesis_hash
from node.cli.gentx import collect, make_gentx, peers_from_gentxs, read_gentx_dir, verify_final
from node.home import Home, init_home, write_genesis
from node.cli.keyring_options import KeyringChoice, keyring_options
from node.keys import KeyError_, decode_address, encode_address
from node.cli.peer_id import peer_id
from state.tx import MAX_AMOUNT

home_option = click.option("--home", "home_dir", type=click.Path(path_type=Path), default=DEFAULT_HOME,
                           show_default=True, help="node home directory")
ERRORS = (GenesisError, ConfigError, KeyError_, OSError)


def home_gentx_dir(home: Home) -> Path:
    return home.config_dir / "gentx"


@click.group("genesis")
def genesis_group() -> None:
    """Build a genesis with independent operators: init, add-account, gentx, collect-gentxs, hash."""


@genesis_group.command("init")
@home_option
@click.option("--chain-id", required=True)
@click.option("--moniker", default="node", show_default=True, help="for a new home")
@click.option("--params", "params_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              default=None, help="JSON object of chain parameters (state/params.py); others default")
@click.option("--genesis-time-ms", type=UINT, default=None, help="default: now")
@click.option("--overwrite", is_flag=True, help="replace an existing genesis.json")
def init_cmd(home_dir: Path, chain_id: str, moniker: str, params_file: Path | None,
             genesis_time_ms: int | None, overwrite: bool) -> None:
    """Write a draft genesis (no validators yet); creates the home and its keys if new."""
    home = Home(home_dir)
    try:
        if home.genesis_file.exists() and not overwrite:
            raise GenesisError(f"{home.genesis_file} exists; --overwrite to replace it")
        params = json.loads(params_file.read_text()) if params_file else {}
        if not isinstance(params, dict):
            raise GenesisError(f"{params_file}: want a JSON object of parameters")
        draft = draft_genesis(chain_id, int(time.time() * 1000) if genesis_time_ms is None
                              else genesis_time_ms, params)
        if not home.config_file.exists():
            init_home(home.root, moniker)
        write_genesis(home, draft)
    except (*ERRORS, ValueError) as e:
        fail(str(e))
    click.echo(json.dumps({"genesis": str(home.genesis_file), "chain_id": chain_id}))


@genesis_group.command("add-account")
@click.argument("account")
@click.argument("amount", type=Uint(lo=1, hi=MAX_AMOUNT))
@home_option
@keyring_options
def add_account_cmd(account: str, amount: int, home_dir: Path, keyring: KeyringChoice) -> None:
    """Fund ACCOUNT (an open1... address, or a key name in the keyring) with AMOUNT uopen."""
    home = Home(home_dir)
    try:
        try:
            address = decode_address(account)
        except KeyError_:
            address = keyring.open(home_dir).get(account).address
        write_genesis(home, add_account(home.load_genesis_doc(), address, amount))
    except (*ERRORS, ValueError) as e:
        fail(str(e))
    click.echo(json.dumps({"address": encode_address(address), "amount": amount}))


@genesis_group.command("gentx")
@home_option
@click.option("--from", "key_name", required=True, help="operator account key")
@keyring_options
@click.option("--stake", type=Uint(lo=1, hi=MAX_AMOUNT), required=True, help="uopen bonded at genesis")
@click.option("--p2p-address", default=None,
              help="where others dial this node, /ip4/<ip>/tcp/<port> (default: config p2p.listen "
                   "when it names an address)")
def gentx_cmd(home_dir: Path, key_name: str, keyring: KeyringChoice, stake: int,
              p2p_address: str | None) -> None:
    """Sign this node's genesis create_validator into <home>/config/gentx/gentx-<peer id>.json."""
    home = Home(home_dir)
    try:
        operator = keyring.open(home_dir).get(key_name)
        cfg = home.load_config()
        p2p = p2p_address or cfg.p2p.listen
        if "/0.0.0.0/" in p2p or "/::/" in p2p:
            raise GenesisError(f"p2p.listen {p2p} is no address others can dial: give --p2p-address")
        g = make_gentx(home.load_genesis_doc(), operator, home.validator_key().pub_key, stake,
                       moniker=cfg.node.moniker, peer_id=peer_id(home.node_key()), p2p=p2p)
        out = home_gentx_dir(home) / f"gentx-{g.peer_id}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(g.to_json(), indent=2) + "\n")
    except ERRORS as e:
        fail(str(e))
    click.echo(json.dumps({"gentx": str(out), "operator": encode_address(operator.address),
                           "stake": stake, "peer": g.multiaddr}))


def _set_peers(home: Home, checked) -> list[str]:
    """This home's persistent_peers := every other genesis validator's node."""
    cfg = home.load_config()
    cfg.p2p.persistent_peers = peers_from_gentxs(checked, peer_id(home.node_key()))
    save_config(home.config_file, cfg)
    return cfg.p2p.persistent_peers


@genesis_group.command("collect-gentxs")
@home_option
@click.option("--gentx-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="default: <home>/config/gentx")
def collect_cmd(home_dir: Path, gentx_dir: Path | None) -> None:
    """Verify every gentx against the draft and write the final genesis and this node's peers."""
    home = Home(home_dir)
    try:
        doc = collect(home.load_genesis_doc(), read_gentx_dir(gentx_dir or home_gentx_dir(home)))
        checked = verify_final(doc)
        write_genesis(home, doc)
        peers = _set_peers(home, checked)
    except ERRORS as e:
        fail(str(e))
    click.echo(json.dumps({"genesis_hash": genesis_hash(doc), "validators": len(checked),
                           "persistent_peers": peers}, indent=2))


def _verified(home: Home | None, genesis_file: Path | None):
    doc = (json.loads(genesis_file.read_text()) if genesis_file else home.load_genesis_doc())
    return doc, verify_final(doc)


genesis_file_option = click.option("--genesis", "genesis_file", default=None,
                                   type=click.Path(path_type=Path, exists=True, dir_okay=False),
                                   help="a genesis.json file instead of <home>/config/genesis.json")


@genesis_group.command("hash")
@home_option
@genesis_file_option
def hash_cmd(home_dir: Path, genesis_file: Path | None) -> None:
    """Verify the genesis (every validator is its signed gentx) and print its hash to compare."""
    try:
        doc, checked = _verified(Home(home_dir), genesis_file)
    except (*ERRORS, ValueError) as e:
        fail(str(e))
    click.echo(json.dumps({"chain_id": doc["chain_id"], "genesis_hash": genesis_hash(doc),
                           "validators": [{"moniker": c.gentx.moniker, "operator": encode_address(c.operator),
                                           "stake": c.stake, "peer": c.gentx.multiaddr} for c in checked]},
                          indent=2))


@genesis_group.command("peers")
@home_option
@click.option("--write", is_flag=True, help="store them as this home's p2p.persistent_peers")
def peers_cmd(home_dir: Path, write: bool) -> None:
    """The other genesis validators' nodes, from the verified gentxs of <home>'s genesis."""
    home = Home(home_dir)
    try:
        _, checked = _verified(home, None)
        peers = _set_peers(home, checked) if write else peers_from_gentxs(checked, peer_id(home.node_key()))
    except (*ERRORS, ValueError) as e:
        fail(str(e))
    click.echo(json.dumps({"persistent_peers": peers, "written": write}, indent=2))
