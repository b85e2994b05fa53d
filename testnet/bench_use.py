"""Cost of `use` against `transfer`, measured in the same run (`python -m testnet.bench_use`).

Builds a datanet with 50 accepted contributions, a model on the datanet and one
contribution, a model on that model and the datanet, and an agent on the second model
(upstream expansion 6), then executes blocks of N uses of the agent and of N transfers
with signatures pre-verified (as a node does for txs it admitted), and prints the
execute time per tx of each kind and their ratio. The last line is one JSON object.
"""
from __future__ import annotations

import json
import tempfile
import time

import click

from state.address import address_from_pubkey
from state.asset_records import compute_asset_id, compute_contribution_id
from state.devchain import DevChain, seeded_key
from state.store import Store
from state.tx import tx_id


def _addr(key) -> bytes:
    return address_from_pubkey(bytes(key.verify_key))


@click.command("use")
@click.option("--txs", default=2_000, show_default=True, help="txs per measured block")
@click.option("--rounds", default=3, show_default=True, help="measured blocks of each kind")
def command(txs: int, rounds: int) -> None:
    users = [seeded_key(f"bench-use/{i}") for i in range(txs)]
    dana, eve, finn = (seeded_key(f"bench-use/{n}") for n in ("dana", "eve", "finn"))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp + "/db")
        chain = DevChain(store, accounts=[(k, 10**12) for k in users + [dana, eve, finn]])

        def one(key, kind, *fields) -> bytes:
            raw = chain.tx(key, kind, *fields)
            assert chain.apply([raw]).tx_results[0].code == 0
            return compute_asset_id(tx_id(raw))

        d = one(dana, "create_datanet", "d", "", 600_000, 0, [_addr(dana)])
        items = [i.to_bytes(32, "big") for i in range(50)]
        chain.apply([chain.tx(users[i], "contribute", d, items[i], 1, "") for i in range(50)])
        chain.apply([chain.tx(dana, "review", compute_contribution_id(d, c), True, i + 1)
                     for i, c in enumerate(items)])
        c0 = compute_contribution_id(d, items[0])
        m = one(eve, "register_model", "m", "", 0, [[d, 400_000], [c0, 100_000]])
        m2 = one(eve, "register_model", "m2", "", 0, [[d, 300_000], [m, 200_000]])
        agent = one(finn, "register_agent", "a", "", 10**6, [[m2, 300_000]])

        def run(raws: list[bytes]) -> float:
            block = chain.make_block(raws)
            ids = frozenset(tx_id(r) for r in raws)
            t = time.perf_counter()
            result = chain.ledger.execute_block(block, ids)
            dt = time.perf_counter() - t
            assert all(r.code == 0 for r in result.tx_results), result.tx_results[0].log
            chain.ledger.commit(result)
            return dt / len(raws) * 1e6

        to = _addr(users[0])
        transfer_us, use_us = [], []
        for _ in range(rounds):
            transfer_us.append(run([chain.tx(u, "transfer", to, 1) for u in users[1:]]))
            use_us.append(run([chain.tx(u, "use", agent, 10**6) for u in users[1:]]))
            click.echo(f"  transfer {transfer_us[-1]:.1f} us/tx   use {use_us[-1]:.1f} us/tx")
        store.close()
    t, u = min(transfer_us), min(use_us)
    click.echo(f"execute, best of {rounds}: transfer {t:.1f} us, use (expansion 6) {u:.1f} us, ratio {u / t:.2f}")
    click.echo(json.dumps({"transfer_us": round(t, 1), "use_us": round(u, 1), "use_per_transfer": round(u / t, 2)}))


if __name__ == "__main__":
    command()
