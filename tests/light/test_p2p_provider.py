"""The libp2p provider's protocol handling over the in-memory transport (same Transport
interface as libp2p): the light-block and proof protocols, the fallback to `blocks` for a
node that does not serve light blocks, tx inclusion found by scanning blocks, refusals
from submit-tx, and a node whose block contents do not match its header."""
from __future__ import annotations

import pytest

from chaingen import GENESIS_MS, GenChain, key, rotating_chain, sign_commit
from node.light.client import LightClient
from node.light.errors import ProviderError, VerificationError
from node.light.p2p_provider import P2PProvider
from node.light.store import TrustedStore
from node.light.types import LightBlock
from p2p.ids import BLOCKS, LIGHT_BLOCK, STATUS, SUBMIT_TX, ChainTopics
from p2p.memory import open_memory_network
from p2p.messages import (
    BlocksRequest, BlocksResponse, LightBlockRequest, LightBlockResponse, Status, SubmitTxRequest,
    SubmitTxResponse,
)
from state.block import Block, compute_data_hash
from state.tx import tx_id

CHAIN = "light-test"
TOPICS = ChainTopics(CHAIN)


def chain_with_txs(base: GenChain, upto: int) -> tuple[GenChain, dict[int, list[bytes]]]:
    """Rebuild `base` with one tx per block (data_hash = root of its id)."""
    txs = {h: [b"tx-%d" % h] for h in range(1, upto + 1)}
    c = GenChain(CHAIN, base.sets)
    for h in range(1, upto + 1):
        hd = c.header(h, data_hash=compute_data_hash(txs[h]))
        c.blocks[h] = LightBlock(hd, sign_commit(CHAIN, hd, c.keys_at(h)), c.set_at(h))
    return c, txs


def serve(transport, chain: GenChain, txs: dict[int, list[bytes]], *, light_blocks: bool,
          tamper_txs: bool = False) -> None:
    top = max(chain.blocks)

    async def status(peer, payload):
        return Status(top, 0, bytes(32), 1).encode()

    async def blocks(peer, payload):
        req = BlocksRequest.decode(payload, max_size=64)
        out = []
        for h in range(req.from_height, min(req.to_height, top) + 1):
            lb = chain.blocks[h]
            body = [b"forged"] if tamper_txs else txs[h]
            out.append((Block(lb.header, body, [], None).encode(), lb.commit.encode()))
        return BlocksResponse(tuple(out)).encode()

    async def light_block(peer, payload):
        lb = chain.blocks[LightBlockRequest.decode(payload, max_size=64).height]
        return LightBlockResponse(lb.header.encode(), lb.commit.encode(), lb.validators.encode()).encode()

    async def submit(peer, payload):
        tx = SubmitTxRequest.decode(payload, max_size=len(payload)).tx
        return SubmitTxResponse(1, "nonce_gap: nonce 7 expected 3", tx_id(tx)).encode()

    transport.set_request_handler(TOPICS.protocol(STATUS), status)
    transport.set_request_handler(TOPICS.protocol(BLOCKS), blocks)
    transport.set_request_handler(TOPICS.protocol(SUBMIT_TX), submit)
    if light_blocks:
        transport.set_request_handler(TOPICS.protocol(LIGHT_BLOCK), light_block)


def light(transport, chain) -> LightClient:
    now = GENESIS_MS + (max(chain.blocks) + 1) * 1000
    return LightClient(CHAIN, P2PProvider(transport, "full", CHAIN), TrustedStore(),
                       clock=lambda: now, trusting_period_ms=10_000_000)


async def test_light_blocks_follow_set_changes_over_the_protocol():
    c, txs = chain_with_txs(rotating_chain(CHAIN, 30, rotate_every=3), 30)
    async with open_memory_network() as net:
        async with net.open_transport("full") as full, net.open_transport("light") as lt:
            serve(full, c, txs, light_blocks=True)
            client = light(lt, c)
            await client.init_trusted(1, c.blocks[1].id())
            assert (await client.verify_to()).id() == c.blocks[30].id()
            assert client.provider.serves_light_block is True
            found = await client.find_tx_in_blocks(tx_id(b"tx-17"), 10, 30)
            assert (found.height, found.index, found.proof.tx) == (17, 0, b"tx-17")
            assert await client.find_tx_in_blocks(tx_id(b"never"), 1, 30) is None


async def test_a_node_without_light_blocks_is_read_through_blocks_and_trusted_sets():
    base = GenChain(CHAIN, {h: ([key(f"v{i}") for i in range(4)], [10] * 4) for h in range(1, 30)})
    c, txs = chain_with_txs(base, 25)
    async with open_memory_network() as net:
        async with net.open_transport("full") as full, net.open_transport("light") as lt:
            serve(full, c, txs, light_blocks=False)
            client = light(lt, c)
            # the trust anchor's set is learnt once (e.g. from a trusted light block)
            client.store.save(c.blocks[1])
            assert (await client.verify_to(25)).id() == c.blocks[25].id()
            assert client.provider.serves_light_block is False
            proven = await client.wait_for_tx(tx_id(b"tx-20"), from_height=2, timeout_s=5)
            assert proven.height == 20
            res = await client.submit(b"some tx")
            assert not res.accepted and res.code == "nonce_gap" and "expected 3" in res.log
            with pytest.raises(ProviderError) as e:
                await client.submit_and_prove(b"some tx", timeout_s=1)
            assert e.value.code == "nonce_gap"


async def test_block_contents_that_do_not_match_the_header_are_refused():
    base = GenChain(CHAIN, {h: ([key(f"v{i}") for i in range(4)], [10] * 4) for h in range(1, 12)})
    c, txs = chain_with_txs(base, 10)
    async with open_memory_network() as net:
        async with net.open_transport("full") as full, net.open_transport("light") as lt:
            serve(full, c, txs, light_blocks=True, tamper_txs=True)
            client = light(lt, c)
            await client.init_trusted(1, c.blocks[1].id())
            with pytest.raises(VerificationError) as e:
                await client.find_tx_in_blocks(tx_id(b"forged"), 2, 10)
            assert e.value.code == "data_hash_mismatch"


async def test_unreachable_peer_is_a_provider_error():
    c, txs = chain_with_txs(rotating_chain(CHAIN, 3), 3)
    async with open_memory_network() as net:
        async with net.open_transport("light") as lt:
            client = light(lt, c)
            with pytest.raises(ProviderError):
                await client.init_trusted(1, c.blocks[1].id())

