"""End to end: `attrchain start` with [statesync] on, over real libp2p. A validator process
takes snapshots; a full node process with an empty home restores one, verified from a
trusted height and hash, then follows the chain; below its snapshot it answers `pruned`."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from e2e_harness import Net, wait_until
from node.home import Home
from node.cli.rpc_client import RpcClientError

pytestmark = [pytest.mark.xdist_group("e2e"), pytest.mark.slow, pytest.mark.timeout(200)]


def test_a_full_node_joins_by_state_sync_then_follows():
    d = Path(tempfile.mkdtemp(prefix="attrchain-e2e-sync-"))
    net = Net(d, n_validators=1, n_full=1,
              config_overrides={"storage": {"snapshot_interval": 4, "snapshot_keep": 2}})
    validator, full = net.validators[0], net.full[0]
    try:
        net.start(validator)
        net.wait_height([validator], 10, timeout=60)
        snapshots = Home(Path(validator.home)).data_dir / "snapshots"
        wait_until(lambda: any(p.name.isdigit() for p in snapshots.iterdir()), 30, "a snapshot")
        home = Home(Path(full.home))
        cfg = home.load_config()
        cfg.statesync.enable = True
        cfg.statesync.trust_height = 2
        cfg.statesync.trust_hash = net.block_id(validator, 2)
        from node.config import save_config
        save_config(home.config_file, cfg)
        net.start(full)
        wait_until(lambda: '"state_synced"' in Path(full.logfile).read_text(), 60, "state_synced")
        wait_until(lambda: net.height(full) > 0, 30, "the full node's RPC")
        synced = net.height(full)  # the snapshot's height (or just above it)
        net.wait_height([full], synced + 3, timeout=60)
        for h in (synced + 1, synced + 3):  # blocks fetched after the snapshot, the same chain
            assert net.block_id(full, h) == net.block_id(validator, h)
            assert net.app_hash_after(full, h) == net.app_hash_after(validator, h)
        with pytest.raises(RpcClientError) as e:
            net.clients[full.name].get("/block", height=1)
        assert (e.value.status, e.value.code) == (410, "pruned")
    finally:
        net.stop_all()
        shutil.rmtree(d, ignore_errors=True)
