"""`attrchain start`: load the home, open the transport, run every service of the node in
one nursery until SIGINT/SIGTERM, then close the store cleanly."""
from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import trio

from consensus.crypto import Ed25519Key
from node import logs
from node.config import ConfigError, P2PSection
from node.runtime.gc_tuning import tune_gc
from node.home import Home
from node.keys import KeyError_
from node.logs import get_logger, log_event

if TYPE_CHECKING:
    from p2p.config import P2PConfig

log = get_logger("attrchain.node")


def p2p_config(p2p: P2PSection, chain_id: str, identity_seed: bytes) -> P2PConfig:
    """The transport's P2PConfig from config.toml's [p2p] (milliseconds -> seconds)."""
    from p2p.config import P2PConfig
    return P2PConfig(chain_id=chain_id, identity_seed=identity_seed,
                     listen_addrs=(p2p.listen,),
                     persistent_peers=tuple(p2p.persistent_peers),
                     redial_interval=p2p.redial_interval_ms / 1000,
                     dial_timeout=p2p.dial_timeout_ms / 1000,
                     max_dial_timeout=p2p.max_dial_timeout_ms / 1000,
                     validator_full_mesh=p2p.validator_full_mesh,
                     pex=p2p.pex, max_peers=p2p.max_peers, seeds=tuple(p2p.seeds),
                     private_peer_ids=tuple(p2p.private_peer_ids))


async def run_node(home: Home, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    from node.runtime.node import Node
    from p2p.libp2p_transport import open_libp2p_transport
    from state.genesis import Genesis

    cfg = home.load_config()
    genesis = Genesis.load(home.genesis_file)
    node_key = home.node_key()
    vkey = Ed25519Key(home.validator_key().seed)
    is_genesis_validator = any(v.consensus_pubkey == vkey.pub_key for v in genesis.validators)
    async with open_libp2p_transport(p2p_config(cfg.p2p, genesis.chain_id, node_key.seed)) as transport:
        from node.runtime.statesync import maybe_state_sync
        synced = await maybe_state_sync(transport, genesis.chain_id, home.state_db,
                                        home.data_dir / "seen_commit.bin", cfg.statesync)
        if synced is not None:
            log_event(log, logging.INFO, "state_sync_done", height=synced)
        node = Node(home, cfg, genesis, transport, validator_key=vkey)
        try:
            async with trio.open_nursery() as nursery:
                info = await nursery.start(node.run, cfg.rpc.listen)
                log_event(log, logging.INFO, "node_started", moniker=cfg.node.moniker,
                          node_id=transport.local_peer, p2p=transport.listen_addrs(),
                          rpc=info, height=node.chain.height, chain_id=genesis.chain_id,
                          validator=is_genesis_validator or node.chain.has_validator(node.chain.height + 1, vkey.address))
                task_status.started(node)
                tune_gc()  # start-up's heap out of every collection (node/runtime/gc_tuning.py)
        finally:
            node.close()
            log_event(log, logging.INFO, "node_stopped", height=node.chain.height)


async def _main(home: Home) -> None:
    async with trio.open_nursery() as nursery:
        async def stop_on_signal() -> None:
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for sig in signals:
                    log_event(log, logging.INFO, "signal", signal=signal.Signals(sig).name)
                    nursery.cancel_scope.cancel()
                    return
        nursery.start_soon(stop_on_signal)
        await run_node(home)


@click.command("start")
@click.option("--home", "home_dir", type=click.Path(path_type=Path), required=True)
def start_command(home_dir: Path) -> None:
    """Run the node (validator if its consensus key is in the validator set)."""
    home = Home(home_dir)
    try:
        cfg = home.load_config()
        home.node_key()
        home.validator_key()
    except (ConfigError, KeyError_, ValueError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    logs.configure(cfg.node.log_level)
    try:
        trio.run(_main, home)
    except KeyboardInterrupt:
        pass
    except BaseException as e:  # noqa: BLE001 -- report OSErrors (a port taken) in one line
        from node.runtime.statesync import StateSyncError
        os_error = _find(e, OSError) or _find(e, StateSyncError)
        if os_error is None:
            raise
        click.echo(f"error: {os_error}", err=True)
        sys.exit(1)


def _find(exc: BaseException, kind: type) -> BaseException | None:
    """The first `kind` inside (possibly nested) exception groups."""
    if isinstance(exc, kind):
        return exc
    for sub in getattr(exc, "exceptions", ()):
        found = _find(sub, kind)
        if found is not None:
            return found
    return None
