"""The light client against a real 4-validator testnet (OS processes, libp2p, HTTP RPC),
and against a deliberately lying node for each lie: it proxies a real node and alters
exactly one thing; the client must refuse it, naming the reason.

One testnet serves the module (starting one costs ~4 s). Waits are conditions with
deadlines. The light client trusts only header 1's hash, read from a validator's RPC
as a user would read it from a source they trust.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import trio
from nacl.signing import SigningKey

from chaingen import static_chain
from liar import open_liar
from netfix import running_net
from node.keys import encode_address
from node.light.client import LightClient
from node.light.errors import VerificationError
from node.light.p2p_provider import open_p2p_provider
from node.light.rpc_provider import RpcProvider
from node.light.store import TrustedStore
from node.rpc.rpc_backend import header_json
from state import proof_keys
from state.codec import decode_value, encode_value
from state.tx import sign_tx, tx_id

pytestmark = [pytest.mark.xdist_group("e2e"), pytest.mark.timeout(120)]

CHAIN = "light-chain"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    with running_net(tmp_path_factory.mktemp("lightnet")) as n:
        yield n


@pytest.fixture(scope="module")
def committed(net):
    """A transfer committed through a validator's RPC (the tx the tx-proof lies are about)."""
    alice, erin = net.ring.get("alice"), net.ring.get("erin")
    with net.rpc(2) as c:
        nonce = c.query("account", address=encode_address(alice.address))["nonce"]
        raw = sign_tx(SigningKey(alice.seed), CHAIN, nonce, 1000, "transfer", [erin.address, 11])
        res = c.broadcast_tx_commit(raw, timeout_ms=20_000)
    assert res["committed"] and res["tx_result"]["code"] == 0
    return res


def block_id(net, height: int, node: int = 0) -> bytes:
    with net.rpc(node) as c:
        return bytes.fromhex(c.get("/block", height=height)["block_id"])


async def trusted_store(net) -> TrustedStore:
    """Trust header 1 (hash from a validator we trust), verified through node 0."""
    store = TrustedStore()
    p = RpcProvider(net.nodes[0].rpc)
    try:
        await LightClient(CHAIN, p, store).init_trusted(1, block_id(net, 1))
    finally:
        await p.aclose()
    return store


def sign_transfer(net, sender: str, to: str, amount: int, nonce: int) -> bytes:
    key = net.ring.get(sender)
    return sign_tx(SigningKey(key.seed), CHAIN, nonce, 1000, "transfer", [net.ring.get(to).address, amount])


# ------------------------------------------------------------------ honest nodes
async def test_rpc_verify_query_submit_and_prove(net):
    store = await trusted_store(net)
    p = RpcProvider(net.nodes[1].rpc)
    client = LightClient(CHAIN, p, store)
    try:
        lb = await client.verify_to()
        # the skip from 1 to the latest needed no header in between (static set)
        assert client.fetched == 1
        assert lb.id() == block_id(net, lb.height, node=3)
        bob, frank = net.ring.get("bob"), net.ring.get("frank")
        before = await client.account(bob.address)
        with net.rpc(3) as c:
            said = c.query("account", address=encode_address(bob.address), height=before.proven.height)
        assert (before.balance, before.nonce) == (said["balance"], said["nonce"])
        assert before.proven.app_hash == (await client.verify_to(before.proven.height + 1)).header.app_hash
        # an address never funded: its absence is proven
        nobody = await client.account(bytes(range(20)))
        assert (nobody.balance, nobody.nonce, nobody.proven.value) == (0, 0, None)
        # submit over HTTP RPC, wait, prove inclusion against the verified header
        raw = sign_transfer(net, "frank", "bob", 4242, (await client.account(frank.address)).nonce)
        res, proven = await client.submit_and_prove(raw, timeout_s=30)
        assert res.accepted and proven.tx_id == tx_id(raw)
        assert proven.header.id() == block_id(net, proven.height, node=2)
        with net.rpc(0) as c:
            assert c.get("/tx", hash=tx_id(raw).hex())["height"] == proven.height
        after = await client.account(bob.address, proven.height)
        assert after.balance == before.balance + 4242
    finally:
        await p.aclose()


async def test_libp2p_submit_as_a_non_validator_peer_then_prove(net):
    store = await trusted_store(net)
    async with open_p2p_provider(CHAIN, net.nodes[1].multiaddr) as p:
        client = LightClient(CHAIN, p, store)
        grace = net.ring.get("grace")
        acct = await client.account(grace.address)          # proof protocol over libp2p
        raw = sign_transfer(net, "grace", "heidi", 99, acct.nonce)
        res, proven = await client.submit_and_prove(raw, timeout_s=30)
        assert res.accepted and res.tx_id == tx_id(raw)
        # proven from the block itself (fetched over libp2p, its txs hash to data_hash)
        assert proven.header.id() == block_id(net, proven.height, node=0)
        assert proven.proof.tx == raw
        with net.rpc(3) as c:                             # a validator that never saw us
            rec = c.get("/tx", hash=tx_id(raw).hex())
            assert (rec["height"], rec["index"]) == (proven.height, proven.index)
        # a refused tx names the node's reason (same nonce again: already used)
        res2 = await client.submit(raw)
        assert not res2.accepted and res2.code


# ------------------------------------------------------------------ lying nodes
def _copy(doc: dict, **changes) -> dict:
    out = dict(doc)
    out.update(changes)
    return out


def _flip(hex_text: str, at: int | None = None) -> str:
    b = bytearray(bytes.fromhex(hex_text))
    i = len(b) // 2 if at is None else at
    b[i] ^= 0x01
    return b.hex()


def lie_balance(path, params, doc):
    return _copy(doc, balance=doc["balance"] + 10**9) if path == "/query/account" else doc


def lie_value(path, params, doc):
    if path != "/query/account":
        return doc
    bal, nonce = decode_value(bytes.fromhex(doc["raw_value"]))
    forged = encode_value([bal + 10**9, nonce])
    return _copy(doc, balance=bal + 10**9, raw_value=forged.hex(), value=[bal + 10**9, nonce])


def lie_proof(path, params, doc):
    return _copy(doc, proof=_flip(doc["proof"])) if path == "/query/account" else doc


def lie_absent(path, params, doc):
    if path != "/query/account":
        return doc
    return _copy(doc, raw_value=None, value=None, balance=0, nonce=0)


def lie_root(path, params, doc):
    return _copy(doc, app_hash=_flip(doc["app_hash"])) if path == "/query/account" else doc


@pytest.mark.parametrize("lie, reason", [
    (lie_balance, "forged_value"),      # the balance field alone
    (lie_value, "invalid_proof"),       # value and balance forged consistently
    (lie_proof, "invalid_proof"),       # one bit of the proof
    (lie_absent, "invalid_proof"),      # "no such account"
    (lie_root, "app_hash_mismatch"),    # proved against another root
], ids=["forged_balance", "forged_value", "tampered_proof", "claims_absent", "other_root"])
async def test_lying_state_answers_are_refused(net, lie, reason):
    store = await trusted_store(net)
    alice = net.ring.get("alice").address
    async with open_liar(net.nodes[0].rpc, lie) as liar:
        p = RpcProvider(liar.url)
        try:
            with pytest.raises(VerificationError) as e:
                await LightClient(CHAIN, p, store).account(alice)
        finally:
            await p.aclose()
    assert e.value.code == reason, e.value
    assert liar.told == ["/query/account"]


class _OtherKeyProvider:
    """A node answering every state query with a VALID proof of another account's key:
    each provider builds the key itself, so only the client can catch this."""

    def __init__(self, inner: RpcProvider, other: bytes):
        self.inner, self.other = inner, other

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def account(self, address: bytes, height: int):
        return await self.inner.account(self.other, height)

    async def state_proof(self, key: bytes, height: int):
        return await self.inner.state_proof(proof_keys.account(self.other), height)


@pytest.mark.parametrize("query", ["account", "query_key"])
async def test_a_valid_proof_of_another_key_is_refused(net, query):
    store = await trusted_store(net)
    alice, bob = net.ring.get("alice").address, net.ring.get("bob").address
    p = RpcProvider(net.nodes[0].rpc)
    client = LightClient(CHAIN, _OtherKeyProvider(p, bob), store)
    try:
        with pytest.raises(VerificationError) as e:
            if query == "account":
                await client.account(alice)
            else:
                await client.query_key(proof_keys.account(alice))
    finally:
        await p.aclose()
    assert e.value.code == "wrong_key", e.value


class _StaleHeightProvider:
    """A node answering every state query with a VALID proof of the asked key one height
    earlier than asked (an old balance, honestly proven for its own height)."""

    def __init__(self, inner: RpcProvider):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def account(self, address: bytes, height: int):
        return await self.inner.account(address, height - 1)

    async def state_proof(self, key: bytes, height: int):
        return await self.inner.state_proof(key, height - 1)


@pytest.mark.parametrize("query", ["account", "query_key"])
async def test_a_valid_proof_at_another_height_is_refused(net, query):
    store = await trusted_store(net)
    alice = net.ring.get("alice").address
    p = RpcProvider(net.nodes[0].rpc)
    client = LightClient(CHAIN, _StaleHeightProvider(p), store)
    try:
        await client.wait_for_height(3)  # asked at 2, the lie proves height 1
        with pytest.raises(VerificationError) as e:
            if query == "account":
                await client.account(alice, height=2)
            else:
                await client.query_key(proof_keys.account(alice), height=2)
    finally:
        await p.aclose()
    assert e.value.code == "wrong_height", e.value


def _commit_lie(mutate):
    """Lie on /commit for every height above the trusted one."""
    from consensus.types import Commit

    def lie(path, params, doc):
        if path != "/commit" or int(params.get("height", 0)) < 2:
            return doc
        commit = mutate(Commit.decode(bytes.fromhex(doc["raw"])))
        return _copy(doc, raw=commit.encode().hex())
    return lie


def _drop_to_two(c):
    from consensus.types import Commit
    return Commit(c.height, c.round, c.value_id, c.signatures[:2])


def _zero_signature(c):
    from consensus.types import Commit, CommitSig
    s = c.signatures
    return Commit(c.height, c.round, c.value_id, (CommitSig(s[0].validator, bytes(64)),) + s[1:])


def _serve_chain(chain):
    """Answer /commit and /validators above the trusted height 1 from `chain`."""
    def lie(path, params, doc):
        h = int(params.get("height", 0))
        if h < 2 or path not in ("/commit", "/validators"):
            return doc
        lb = chain.blocks[h]
        if path == "/commit":
            return _copy(doc, header=header_json(lb.header), raw=lb.commit.encode().hex())
        return _copy(doc, raw=lb.validators.encode().hex(), hash=lb.validators.hash().hex())
    return lie


def lie_other_chain(trusted):
    """Headers, commits and sets of another chain, well signed by its validators."""
    return _serve_chain(static_chain("other-chain", 200, seed="other", genesis_ms=trusted.time_ms,
                                     block_ms=10))


def lie_fork(trusted):
    """A fork of OUR chain id, after our trusted header, signed by validators we never trusted."""
    return _serve_chain(static_chain(CHAIN, 200, seed="stranger", genesis_ms=trusted.time_ms, block_ms=10))


def lie_replay(trusted):
    """The same fork with times from before our trusted header (an old chain replayed)."""
    return _serve_chain(static_chain(CHAIN, 200, seed="stranger"))


def always(lie):
    return lambda trusted: lie


@pytest.mark.parametrize("make_lie, reason", [
    (always(_commit_lie(_drop_to_two)), "insufficient_power"),   # 2 of 4 equal validators
    (always(_commit_lie(_zero_signature)), "bad_signature"),
    (lie_other_chain, "wrong_chain"),
    (lie_fork, "next_validators_mismatch"),
    (lie_replay, "time_not_increasing"),
], ids=["commit_without_two_thirds", "forged_signature", "another_chain", "strangers_fork", "replayed_fork"])
async def test_lying_headers_are_refused(net, make_lie, reason):
    store = await trusted_store(net)
    async with open_liar(net.nodes[0].rpc, make_lie(store.latest())) as liar:
        p = RpcProvider(liar.url)
        try:
            with pytest.raises(VerificationError) as e:
                await LightClient(CHAIN, p, store).verify_to()
        finally:
            await p.aclose()
    assert e.value.code == reason, e.value
    assert liar.told
    assert max(store.blocks) == 1            # nothing the liar said became trusted


def lie_aunt(path, params, doc):
    if path != "/tx" or "proof" not in doc:
        return doc
    p = dict(doc["proof"])
    if p["aunts"]:
        p["aunts"] = [_flip(p["aunts"][0])] + p["aunts"][1:]
    else:   # a one-tx block: claim a sibling
        p["aunts"], p["total"] = ["00" * 32], 2
    return _copy(doc, proof=p)


def lie_index(path, params, doc):
    if path != "/tx" or "proof" not in doc:
        return doc
    p = dict(doc["proof"])
    p["total"] = p["total"] + 1
    p["index"] = p["total"] - 1
    return _copy(doc, proof=p)


async def test_tampered_tx_inclusion_proofs_are_refused(net, committed):
    store = await trusted_store(net)
    tid = bytes.fromhex(committed["hash"])
    for lie in (lie_aunt, lie_index):
        async with open_liar(net.nodes[0].rpc, lie) as liar:
            p = RpcProvider(liar.url)
            try:
                with pytest.raises(VerificationError) as e:
                    await LightClient(CHAIN, p, store).prove_tx(tid)
            finally:
                await p.aclose()
        assert e.value.code == "invalid_tx_proof", e.value
        assert liar.told == ["/tx"]
    # the honest node's proof of the same tx verifies
    p = RpcProvider(net.nodes[0].rpc)
    try:
        proven = await LightClient(CHAIN, p, store).prove_tx(tid)
    finally:
        await p.aclose()
    assert proven.height == committed["height"]


async def test_claimed_inclusion_of_a_tx_never_sent_is_refused(net, committed):
    """The liar says a tx we signed but never broadcast is committed, with the proof of
    a real tx relabelled."""
    store = await trusted_store(net)
    with net.rpc(0) as c:
        real = c.get("/tx", hash=committed["hash"])
    never_sent = sign_transfer(net, "heidi", "alice", 1, 10_000)
    fake_id = tx_id(never_sent)

    def lie(path, params, doc):
        if path != "/tx" or params.get("hash") != fake_id.hex():
            return doc
        return _copy(real, hash=fake_id.hex(), tx=never_sent.hex(),
                     proof=dict(real["proof"], leaf=fake_id.hex()))

    async with open_liar(net.nodes[0].rpc, lie) as liar:
        p = RpcProvider(liar.url)
        try:
            with pytest.raises(VerificationError) as e:
                await LightClient(CHAIN, p, store).prove_tx(fake_id)
        finally:
            await p.aclose()
    assert e.value.code == "invalid_tx_proof" and liar.told == ["/tx"]


# ------------------------------------------------------------------ the CLI
async def _cli(*args: str) -> tuple[int, str, str]:
    r = await trio.run_process([sys.executable, "-m", "node", "light", *args],
                               capture_stdout=True, capture_stderr=True, check=False)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


async def test_cli_init_verify_query_and_tx_over_libp2p(net, tmp_path):
    d = str(tmp_path / "light")
    rpc = net.nodes[0].rpc
    code, out, err = await _cli("init", "--dir", d, "--node", rpc, "--trusted-height", "1",
                                "--trusted-hash", block_id(net, 1).hex())
    assert code == 0, err
    assert json.loads(out)["chain_id"] == CHAIN
    code, out, err = await _cli("verify", "--dir", d)
    assert code == 0, err
    v = json.loads(out)["verified"]
    assert bytes.fromhex(v["hash"]) == block_id(net, v["height"], node=1)
    assert v["signed_power"] * 3 > v["total_power"] * 2
    carol = encode_address(net.ring.get("carol").address)
    code, out, err = await _cli("query", "account", carol, "--dir", d)
    assert code == 0, err
    q = json.loads(out)
    with net.rpc(1) as c:
        assert q["balance"] == c.query("account", address=carol, height=q["height"])["balance"]
    code, out, err = await _cli("tx", "transfer", "--to", encode_address(net.ring.get("dave").address),
                                "--amount", "5", "--from", "carol", "--keyring-dir", str(net.dir / "keyring"),
                                "--dir", d, "--peer", net.nodes[2].multiaddr, "--timeout", "30")
    assert code == 0, err
    t = json.loads(out)
    assert t["included"] and t["verified"] and t["submitted_via"] == "libp2p"
    with net.rpc(0) as c:
        assert c.get("/tx", hash=t["hash"])["height"] == t["height"]
    code, out, err = await _cli("status", "--dir", d)
    assert code == 0 and json.loads(out)["latest_trusted"]["height"] >= t["height"]


async def test_cli_genesis_init_witnesses_and_liars_are_reported(net, tmp_path):
    d = str(tmp_path / "light")
    genesis = Path(net.nodes[0].home) / "config" / "genesis.json"
    code, out, err = await _cli("init", "--dir", d, "--node", net.nodes[3].rpc, "--genesis", str(genesis),
                                "--witness", net.nodes[1].rpc)
    assert code == 0, err
    assert json.loads(out)["trusted"]["height"] == 1
    code, out, err = await _cli("verify", "--dir", d)
    assert code == 0, err
    assert json.loads(out)["witnesses_agreed"] == 1
    alice = encode_address(net.ring.get("alice").address)
    async with open_liar(net.nodes[3].rpc, lie_balance) as liar:
        code, out, err = await _cli("query", "account", alice, "--dir", d, "--node", liar.url)
    assert code == 3
    assert "REJECTED: forged_value" in err
    # a witness that serves another history (here: a fork by strangers) stops verification
    trusted = TrustedStore(tmp_path / "light").latest()
    async with open_liar(net.nodes[1].rpc, lie_fork(trusted)) as liar:
        code, out, err = await _cli("verify", "--dir", d, "--witness", liar.url)
    assert code == 3 and "conflicting_headers" in err, err
    code, out, err = await _cli("init", "--dir", str(tmp_path / "x"), "--node", net.nodes[3].rpc,
                                "--trusted-height", "1", "--trusted-hash", "ab" * 32)
    assert code == 3 and "trusted_hash_mismatch" in err


# ------------------------------------------------------------------ a set change (runs last)
async def _wait_committed(client, height: int) -> None:
    await client.wait_for_height(height, timeout_s=30)


async def test_follows_a_validator_set_change_on_the_real_chain(net):
    """Adds a validator (never started, power 1 of 401: the chain keeps committing) with a
    create_validator tx, then verifies header by header across the change and by one skip.
    Last in the module (pytest runs a module in file order): it changes its testnet for good."""
    import os
    from consensus.crypto import Ed25519Key
    p = RpcProvider(net.nodes[0].rpc)
    try:
        seq = LightClient(CHAIN, p, await trusted_store(net), sequential=True)
        heidi = net.ring.get("heidi")
        newcomer = Ed25519Key(os.urandom(32))
        nonce = (await seq.account(heidi.address)).nonce
        raw = sign_tx(SigningKey(heidi.seed), CHAIN, nonce, 1000, "create_validator",
                      [newcomer.pub_key, 1_000_000])
        _, proven = await seq.submit_and_prove(raw, timeout_s=30)
        with net.rpc(0) as c:
            assert c.get("/tx", hash=tx_id(raw).hex())["tx_result"]["code"] == 0
        h = proven.height                        # decided at h, in the set of h + 2
        await _wait_committed(seq, h + 3)
        top = await seq.verify_to(h + 3)
        before, after = seq.store.get(h + 1), seq.store.get(h + 2)
        assert before.validators.get(newcomer.address) is None and len(before.validators) == 4
        assert after.validators.get(newcomer.address).voting_power == 1 and len(after.validators) == 5
        assert before.header.next_validators_hash == after.header.validators_hash != before.header.validators_hash
        assert top.validators.get(newcomer.address) is not None
        # skipping from header 1: the old set still signs with all of its power
        skip = LightClient(CHAIN, p, await trusted_store(net))
        assert (await skip.verify_to(h + 3)).id() == top.id()
        assert skip.fetched == 1
    finally:
        await p.aclose()
