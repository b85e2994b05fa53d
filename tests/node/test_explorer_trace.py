"""`trace_use` (behind /use_flows): where one use's payment went, recomputed by the ledger's
own attribution code on the state that tx ran on, must equal what the block credited."""
from state.address import address_from_pubkey, encode_address
from state.asset_records import compute_asset_id
from state.devchain import DevChain, seeded_key
from state.errors import Code
from state.store import Store
from state.tx import tx_id

from node.rpc.explorer_queries import _flow_json, trace_use

OPEN = 1_000_000


async def test_trace_of_a_use_replays_the_txs_before_it_in_its_block(tmp_path):
    eve, gus, uma, dana = (seeded_key(f"trace/{n}") for n in ("eve", "gus", "uma", "dana"))
    addr = {k: address_from_pubkey(bytes(k.verify_key)) for k in (eve, gus, uma, dana)}
    store = Store(str(tmp_path / "db"))
    try:
        chain = DevChain(store, accounts=[(k, 1_000 * OPEN) for k in (eve, gus, uma, dana)])
        raw = chain.tx(dana, "create_datanet", "notes", "ipfs://n", 500_000, OPEN, [addr[dana]])
        chain.apply([raw])
        datanet = compute_asset_id(tx_id(raw))
        raw = chain.tx(eve, "register_model", "m", "ipfs://m", 3 * OPEN, [[datanet, 400_000]])
        chain.apply([raw])
        model = compute_asset_id(tx_id(raw))
        # in ONE block: Eve gives half of the model's rights to Gus, then Uma uses it
        txs = [chain.tx(eve, "transfer_shares", model, addr[gus], 500_000), chain.tx(uma, "use", model, 3 * OPEN)]
        result = chain.apply(txs)
        assert [r.code for r in result.tx_results] == [Code.OK, Code.OK]
        ctx, price, fee, flows = await trace_use(chain.ledger, result.block, 1)
        assert price == 3 * OPEN and fee + sum(f.amount for f in flows) == price
        assert [(f.path, f.to, f.recipient) for f in flows] == \
            [((model,), "holders", model), ((model, datanet), "holders", datanet)]
        # the split over the model's holders sees the transfer made earlier in the same block
        split = {h["address"]: h["amount"] for h in _flow_json(ctx, flows[0])["holders"]}
        assert split == {encode_address(addr[eve]): flows[0].amount // 2, encode_address(addr[gus]): flows[0].amount // 2}
        # and the amounts are what the block credited: the use's own accrual events
        events = [e for e in result.tx_results[1].events if e[0] in ("accrue", "pool")]
        assert sorted((e[1], e[2]) for e in events) == sorted((f.recipient, f.amount) for f in flows)
    finally:
        store.close()
