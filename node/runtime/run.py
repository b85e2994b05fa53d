"""`attrchain start`: load the home, open the transport, run every service of the node in
one nursery until SIGINT/SIGTERM, then close the store cleanly."""
from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

import click
import trio

from consensus.crypto import Ed25519Key
from node import logs
from node.config import ConfigError
from node.runtime.gc_tuning import tune_gc
from node.home import Home
from node.keys import KeyError_
from node.logs import get_logger, log_event

log = get_logger("attrchain.node")


async def run_node(home: Home, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    from node.runtime.node import Node
    from p2p.config import P2PConfig
    from p2p.libp2p_transport import open_libp2p_transport
    from state.genesis import Genesis

    cfg = home.load_config()
    genesis = Genesis.load(home.genesis_file)
    node_key = home.node_key()
    vkey = Ed25519Key(home.validator_key().seed)
    is_genesis_validator = any(v.consensus_pubkey == vkey.pub_key for v in genesis.validators)
    p2p_cfg = P2PConfig(chain_id=genesis.chain_id, identity_seed=node_key.seed,
                        listen_addrs=(cfg.p2p.listen,),
                        persistent_peers=tuple(cfg.p2p.persistent_peers),
                        redial_interval=cfg.p2p.redial_interval_ms / 1000,
                        validator_full_mesh=cfg.p2p.validator_full_mesh,
                        pex=cfg.p2p.pex, max_peers=cfg.p2p.max_peers, seeds=tuple(cfg.p2p.seeds),
                        private_peer_ids=tuple(cfg.p2p.private_peer_ids))
    async with open_libp2p_transport(p2p_cfg) as transport:
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
