"""`attrchain testnet generate`: node homes for a network spread over many machines.

Node i runs on hosts[i]: its config listens there (p2p and RPC), names every other
validator by that host's address and peer id, and its genesis comes out of the same
ceremony operators run by hand (node/cli/gentx.py: a draft, funded accounts, one signed gentx
per validator, collected), so the generated genesis passes `attrchain genesis hash`.
Copy <out>/node<i> to machine i and run `attrchain start --home node<i>` there.

    <out>/testnet.json   chain id, nodes (home, rpc, p2p, peer id), account names
    <out>/keyring/       the funded user accounts (alice, bob, ...)
    <out>/node<i>/       a home; validators hold their operator key in node<i>/keyring
"""
from __future__ import annotations

import ipaddress
import time
from pathlib import Path

import click

from node.config import Config, save_config
from node.cli.genesis_draft import GenesisError, add_account, draft_genesis
from node.cli.gentx import collect, make_gentx
from node.home import DEFAULT_BALANCE, DEFAULT_STAKE, Home, init_home, write_genesis
from node.keys import Keyring
from node.cli.peer_id import peer_id
from testnet.network import USER_ACCOUNTS, NodeInfo, TestnetInfo, fast_config

# the k-th node on one host uses the base ports + k * PORT_STEP
PORT_STEP = 10


def parse_hosts(text: str) -> list[str]:
    """Comma-separated IPv4 addresses (the config's rpc.listen is host:port)."""
    hosts = [h.strip() for h in text.split(",") if h.strip()]
    for h in hosts:
        try:
            ipaddress.IPv4Address(h)
        except ValueError:
            raise click.BadParameter(f"{h!r} is not an IPv4 address") from None
    return hosts


def node_ports(hosts: list[str], p2p_port: int, rpc_port: int) -> list[tuple[int, int]]:
    seen: dict[str, int] = {}
    ports = []
    for h in hosts:
        k = seen.get(h, 0)
        seen[h] = k + 1
        ports.append((p2p_port + k * PORT_STEP, rpc_port + k * PORT_STEP))
    return ports


def generate_hosts(out: Path, hosts: list[str], *, full_hosts: list[str] = (),
                   chain_id: str = "attrchain-testnet", p2p_port: int = 26656,
                   rpc_port: int = 26657, listen_any: bool = False, fast: bool = False,
                   accounts: tuple[str, ...] = USER_ACCOUNTS) -> TestnetInfo:
    """Homes for len(hosts) validators and len(full_hosts) full nodes."""
    if (out / "testnet.json").exists() or (out / "node0").exists():
        raise GenesisError(f"{out} already holds a testnet; choose an empty --out")
    all_hosts = list(hosts) + list(full_hosts)
    homes: list[Home] = []
    nodes: list[NodeInfo] = []
    for i, (host, (p2p, rpc)) in enumerate(zip(all_hosts, node_ports(all_hosts, p2p_port, rpc_port))):
        name = f"node{i}"
        cfg = fast_config(name) if fast else Config()
        cfg.p2p.listen = f"/ip4/{'0.0.0.0' if listen_any else host}/tcp/{p2p}"
        cfg.rpc.listen = f"{host}:{rpc}"
        home = init_home(out / name, name, config=cfg)
        homes.append(home)
        nodes.append(NodeInfo(name, str(home.root), cfg.rpc.listen, f"/ip4/{host}/tcp/{p2p}",
                              peer_id(home.node_key()), validator=i < len(hosts)))
    draft = draft_genesis(chain_id, int(time.time() * 1000))
    ring = Keyring(out / "keyring")
    for name in accounts:
        draft = add_account(draft, ring.add(name).address, DEFAULT_BALANCE)
    gentxs = []
    for home, node in zip(homes, nodes):
        if node.validator:
            op = home.keyring.add(node.name)
            draft = add_account(draft, op.address, DEFAULT_BALANCE + DEFAULT_STAKE)
            gentxs.append((node.name, make_gentx(draft, op, home.validator_key().pub_key, DEFAULT_STAKE,
                                                 moniker=node.name, peer_id=node.peer_id, p2p=node.p2p)))
    genesis = collect(draft, gentxs)
    validators = [n.multiaddr for n in nodes if n.validator]
    for home, node in zip(homes, nodes):
        write_genesis(home, genesis)
        cfg = home.load_config()
        # validators dial each other; a full node dials every validator
        cfg.p2p.persistent_peers = [m for m in validators if m != node.multiaddr]
        save_config(home.config_file, cfg)
    info = TestnetInfo(chain_id, nodes, list(accounts))
    info.save(out)
    return info


@click.command("generate")
@click.option("-n", "n_validators", type=click.IntRange(1, 100), required=True, help="validators")
@click.option("--hosts", required=True, help="IPv4 address of each validator's machine, comma-separated "
              "(repeat one to put several nodes on a machine: their ports step by 10)")
@click.option("--full-hosts", default="", help="IPv4 addresses of full nodes' machines, comma-separated")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True)
@click.option("--chain-id", default="attrchain-testnet", show_default=True)
@click.option("--p2p-port", type=click.IntRange(1, 65535 - 100 * PORT_STEP), default=26656, show_default=True)
@click.option("--rpc-port", type=click.IntRange(1, 65535 - 100 * PORT_STEP), default=26657, show_default=True)
@click.option("--fast", is_flag=True, help="the short consensus timeouts of `testnet up` (one LAN: about a block a second)")
@click.option("--listen-any", is_flag=True,
              help="p2p listens on 0.0.0.0 (machines whose public address is not on an interface, e.g. behind cloud NAT)")
def command(n_validators: int, hosts: str, full_hosts: str, out: Path, chain_id: str, p2p_port: int,
            rpc_port: int, fast: bool, listen_any: bool) -> None:
    """Write homes for N validators on the given machines (+ full nodes), one genesis, all peers."""
    hs = parse_hosts(hosts)
    if len(hs) != n_validators:
        raise click.BadParameter(f"{len(hs)} hosts for -n {n_validators}: give one per validator",
                                 param_hint="--hosts")
    try:
        info = generate_hosts(out, hs, full_hosts=parse_hosts(full_hosts), chain_id=chain_id,
                              p2p_port=p2p_port, rpc_port=rpc_port, listen_any=listen_any, fast=fast)
    except (GenesisError, OSError, ValueError) as e:
        raise click.ClickException(str(e))
    for n in info.nodes:
        click.echo(f"{n.name}\t{'validator' if n.validator else 'full'}\tp2p {n.multiaddr}\trpc {n.rpc}")
    click.echo(f"copy {out}/node<i> to its machine, then: attrchain start --home node<i>")
