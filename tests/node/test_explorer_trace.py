"""`trace_use` (behind /use_flows): where one use's payment went, recomputed by the ledger's
own attribution code on the state that tx ran on, must equal what the block credited."""
from state.address import address_from_pubkey
from state.asset_records import compute_asset_id
from state.context import BlockInfo, Context
from state.devchain import DevChain, seeded_key
from state.errors import Code
from state.graph import get_earnings
from state.store import Store
from state.tx import tx_id

from node.explorer_queries import trace_use

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
        # in ONE block: Eve sells half of the model's rights, then Uma uses it
        txs = [chain.tx(eve, "transfer_shares", model, addr[gus], 500_000), chain.tx(uma, "use", model, 3 * OPEN)]
        result = chain.apply(txs)
        assert [r.code for r in result.tx_results] == [Code.OK, Code.OK]
        committed = result.block
        price, fee, flows = await trace_use(chain.ledger, committed, 1)
        assert price == 3 * OPEN and fee + sum(f.amount for f in flows) == price
        got = {(f.recipient, f.path[-1]): f.amount for f in flows if f.to == "holder"}
        # the trace credits Gus: it saw the transfer made earlier in the same block
        assert got[(addr[gus], model)] > 0 and got[(addr[gus], model)] == got[(addr[eve], model)]
        assert [f.path for f in flows if f.recipient == addr[dana]] == [(model, datanet)]
        # and it is what the block actually credited (the only earnings so far)
        view = Context(store.get, BlockInfo(chain.chain_id, chain.ledger.height + 1, 0, chain.ledger.params))
        for (account, asset), amount in got.items():
            assert dict(get_earnings(view, account))[asset] == amount
    finally:
        store.close()
