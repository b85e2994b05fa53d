"""`attrchain poa index | attest | verify` against a real 4-validator testnet: every chain
read goes through the light client (trusting header 1 only), the attestation is a real
signed tx, and `verify` recomputes it from the demo's notes (testnet/demo_data)."""
from __future__ import annotations

import hashlib
import json
import shutil

import pytest
from click.testing import CliRunner
from nacl.signing import SigningKey

from netfix import running_net
from node.keys import encode_address
from node.cli.query_commands import query_group
from node.cli.light_commands import light_group
from node.cli.poa_commands import poa_group
from state.asset_records import compute_asset_id, compute_contribution_id
from testnet.demo import DATA, NOTES, UMA_ANSWER
from state.tx import sign_tx

pytestmark = [pytest.mark.xdist_group("e2e"), pytest.mark.timeout(180), pytest.mark.slow]

CHAIN = "light-chain"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with running_net(tmp_path_factory.mktemp("poanet")) as n:
        yield n


def commit(net, who: str, kind: str, *fields) -> dict:
    key = net.ring.get(who)
    with net.rpc(0) as c:
        nonce = c.query("account", address=encode_address(key.address))["nonce"]
        res = c.broadcast_tx_commit(sign_tx(SigningKey(key.seed), CHAIN, nonce, 1000, kind, list(fields)),
                                    timeout_ms=20_000)
    assert res["committed"] and res["tx_result"]["code"] == 0, res
    net.wait_height(res["height"] + 1)      # the state after it is provable from the next header on
    return res


def invoke(group, *args: str):
    return CliRunner().invoke(group, list(args), catch_exceptions=False)


def test_poa_index_attest_verify_through_the_light_client(net, tmp_path):
    rpc, ring = net.nodes[0].rpc, net.ring
    res = commit(net, "alice", "create_datanet", "notes", "", 600_000, 0, [ring.get("alice").address])
    notes = compute_asset_id(bytes.fromhex(res["hash"]))
    hashes = {who: hashlib.sha256((DATA / name).read_bytes()).digest() for who, name in NOTES.items()}
    for sender, who in zip(("bob", "carol", "dave"), NOTES):
        commit(net, sender, "contribute", notes, hashes[who], 1, "")
        commit(net, "alice", "review", compute_contribution_id(notes, hashes[who]), True, 100_000)
    model = compute_asset_id(bytes.fromhex(commit(net, "erin", "register_model", "m", "", 1_000_000,
                                                  [[notes, 400_000]])["hash"]))
    commit(net, "erin", "set_attributor", model, ring.get("frank").address)
    use = commit(net, "grace", "use", model, 1_000_000)["hash"]

    light = tmp_path / "light"
    with net.rpc(0) as c:
        block1 = c.get("/block", height=1)["block_id"]
    r = invoke(light_group, "init", "--dir", str(light), "--node", rpc, "--trusted-height", "1",
               "--trusted-hash", block1)
    assert r.exit_code == 0, r.output

    # index: a file that is no accepted contribution refuses the build, by name
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    (data / "stray.txt").write_text("not in the datanet")
    r = invoke(poa_group, "index", "--node", rpc, "--datanet", notes.hex(), "--data", str(data),
               "--index", str(tmp_path / "i.npz"), "--dir", str(light))
    assert r.exit_code == 1 and "stray.txt" in r.output and not (tmp_path / "i.npz").exists()
    (data / "stray.txt").unlink()
    r = invoke(poa_group, "index", "--node", rpc, "--datanet", notes.hex(), "--data", str(data),
               "--index", str(tmp_path / "i.npz"), "--dir", str(light))
    assert r.exit_code == 0, r.output
    assert json.loads(r.output.strip().splitlines()[-1])["contributions"] == 3

    answer = tmp_path / "answer.txt"
    answer.write_bytes(UMA_ANSWER)
    r = invoke(poa_group, "attest", "--use", use, "--index", str(tmp_path / "i.npz"), "--output", str(answer),
               "--from", "frank", "--keyring-dir", str(net.dir / "keyring"), "--node", rpc)
    assert r.exit_code == 0, r.output
    net.wait_height(json.loads(r.output[r.output.index("{\n"):])["height"] + 1)

    r = invoke(poa_group, "verify", "--use", use, "--data", str(data), "--output", str(answer),
               "--node", rpc, "--dir", str(light))
    assert r.exit_code == 0, r.output
    finding = json.loads(r.output.strip().splitlines()[0])
    assert finding["status"] == "match" and len(finding["attested"]) == 2

    # the attestation read back: through the light client (proven), and from the RPC
    r = invoke(light_group, "query", "attestation", use, "--dir", str(light), "--node", rpc)
    assert r.exit_code == 0, r.output
    proven = json.loads(r.output)
    [e] = proven["escrows"]
    assert proven["verified"] and e["status"] in ("attested", "paid") and e["algorithm"] == "span-v1"
    assert [[s["contribution"], s["score_ppm"]] for s in e["scores"]] == finding["attested"]
    assert e["output_hash"] == hashlib.sha256(UMA_ANSWER).hexdigest()
    r = invoke(query_group, "attestation", use, "--node", rpc)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["escrows"][0]["scores"] == e["scores"]
    r = invoke(light_group, "query", "attributor", model.hex(), "--dir", str(light), "--node", rpc)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["attributor"]["operator"] == encode_address(ring.get("frank").address)
    r = invoke(light_group, "query", "attributor", notes.hex(), "--dir", str(light), "--node", rpc)
    assert r.exit_code == 1 and "not_a_model" in r.output

    answer.write_bytes(b"a different answer")
    r = invoke(poa_group, "verify", "--use", use, "--data", str(data), "--output", str(answer),
               "--node", rpc, "--dir", str(light))
    assert r.exit_code == 1 and "attrchain tx challenge --attestation" in r.output
