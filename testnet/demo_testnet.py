"""The attribution story on a real 4-validator testnet: every tx goes through a node's RPC,
is gossiped, proposed, voted and committed; every figure printed is read back from the
nodes (earnings and graphs with Merkle proofs).

Dana curates a datanet of clinical notes; Ada, Bao and Chidi contribute (Mallory submits a
copy, rejected); Eve trains a model on the datanet and on Ada's notes; Finn builds an
agent on the model; Otto is the model's attributor; Vic uses the model; Eve sells a quarter
of the model's revenue rights on the order book and Gus buys it (what arrived before the
fill is Eve's, after it Gus's); Uma uses the agent, Vic the model again. Otto measures which
notes the agent's answer to Uma quoted and attests it (Proof of Attribution, docs/poa.md);
once the windows close the escrows are paid by that measurement (Vic's, unattested, by
weights); the contributors claim. Then: static weights beside the measurement, every
holder's earned and accrued revenue, queried with proofs, and along which path.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from pathlib import Path

import click
from nacl.signing import SigningKey
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from node.keys import Keyring, encode_address
from node.cli.rpc_client import RpcClient, RpcClientError
from testnet.demo import UMA_ANSWER, measured_table, quoted_line, read_notes, score_answer
from testnet.network import TestnetInfo, generate, node_status, start_node, stop_node, wait_for

OPEN = 1_000_000
SALE_SHARES, SALE_PRICE = 250_000, 8      # 25 % of the model at 8 uopen a share: 2 OPEN
CAST = {
    "Dana": "curates the rare-disease clinical-notes datanet",
    "Ada": "contributes 1,200 annotated notes",
    "Bao": "contributes 500 notes",
    "Chidi": "contributes 200 notes",
    "Mallory": "submits a scraped copy (spam)",
    "Eve": "trains the triage model",
    "Gus": "buys 25 % of the model's revenue rights on the order book",
    "Finn": "builds the care-navigator agent on the model",
    "Uma": "a clinic that uses the agent",
    "Vic": "a researcher who uses the model",
    "Otto": "runs the model's attributor (Proof of Attribution)",
}
# genesis: short windows for the story. Otto attests after the uses commit, so his client's
# round trips (RPC polls, broadcast, gossip to the proposer) must fit in the attestation
# window: 3 blocks (~2.3 s) was missed on a loaded 2-core machine ("the window closed").
POA_PARAMS = {"attestation_blocks": 10, "challenge_blocks": 3}


def fmt(uopen: int) -> str:
    return f"{uopen // OPEN:,}.{uopen % OPEN:06d}"


def pct(ppm: int) -> str:
    whole, frac = divmod(ppm, 10_000)
    return f"{whole}.{frac:04d}".rstrip("0").rstrip(".")


class Client:
    """Signs with the cast's keys, spreads senders over the nodes, waits for commits."""

    def __init__(self, info: TestnetInfo, ring: Keyring, console: Console):
        self.info = info
        self.ring = ring
        self.console = console
        self.rpcs = [RpcClient(n.rpc, timeout=30) for n in info.nodes]
        self.keys = {name: ring.get(name) for name in CAST}
        self.addr = {name: k.address for name, k in self.keys.items()}
        self.nonces: dict[str, int] = {}
        self.node_of = {name: i % len(self.rpcs) for i, name in enumerate(CAST)}

    def close(self) -> None:
        for c in self.rpcs:
            c.close()

    def block(self, *txs: tuple[str, str, list]) -> list[str]:
        """Submit txs (each sender to its own node, so its nonces stay ordered) and wait
        until all are committed; any failure stops the demo with the node's reason."""
        from state.tx import sign_tx
        hashes = []
        for who, kind, fields in txs:
            c = self.rpcs[self.node_of[who]]
            if who not in self.nonces:
                self.nonces[who] = c.query("account", address=encode_address(self.addr[who]))["nonce"]
            raw = sign_tx(SigningKey(self.keys[who].seed), self.info.chain_id, self.nonces[who], 1000, kind, fields)
            res = c.broadcast_tx_sync(raw)
            if res["code"] != 0:
                raise click.ClickException(f"{who}'s {kind} refused: {res['code']}: {res['log']}")
            self.nonces[who] += 1
            hashes.append((who, kind, res["hash"]))
        out = []
        for who, kind, h in hashes:
            rec = wait_for(lambda: self._tx(h), 30, what=f"{who}'s {kind} to be committed")
            if rec["tx_result"]["code"] != 0:
                raise click.ClickException(f"{who}'s {kind} failed in block {rec['height']}: {rec['tx_result']['log']}")
            out.append(h)
        return out

    def _tx(self, h: str) -> dict | None:
        try:
            return self.rpcs[0].get("/tx", hash=h)
        except RpcClientError:
            return None


def asset_id_of(tx_hash: str) -> bytes:
    from state.asset_records import compute_asset_id
    return compute_asset_id(bytes.fromhex(tx_hash))


def run_story(info: TestnetInfo, ring: Keyring, console: Console, uses: int) -> None:
    from state.asset_records import compute_contribution_id
    cl = Client(info, ring, console)
    a = cl.addr
    names: dict[str, str] = {}
    try:
        console.rule("[bold]attrchain on a 4-validator testnet: who earns when an AI agent is used?")
        for name, role in CAST.items():
            console.print(f"  [bold]{name:8}[/] {role}")
        h, = cl.block(("Dana", "create_datanet", ["rare-disease notes", "ipfs://datanet/notes",
                                                  600_000, 5 * OPEN, [a["Dana"]]]))
        datanet = asset_id_of(h)
        names[datanet.hex()] = "notes"
        hashes = {who: hashlib.sha256(data).digest() for who, data in read_notes().items()}
        sizes = {"Ada": 1_200, "Bao": 500, "Chidi": 200, "Mallory": 1_200}
        cl.block(*[(who, "contribute", [datanet, h, sizes[who], f"ipfs://{who.lower()}-notes"])
                   for who, h in hashes.items()])
        contrib = {who: compute_contribution_id(datanet, h) for who, h in hashes.items()}
        for who, cid in contrib.items():
            names[cid.hex()] = f"notes/{who}"
        weights = {"Ada": 600_000, "Bao": 300_000, "Chidi": 100_000}
        cl.block(*[("Dana", "review", [contrib[w], True, wt]) for w, wt in weights.items()],
                 ("Dana", "review", [contrib["Mallory"], False, 0]))
        console.print("\nDana accepts Ada, Bao and Chidi (weights 600,000 / 300,000 / 100,000; bonds "
                      "returned) and rejects Mallory's copy: its 5 OPEN bond goes to the datanet's holders.")
        h, = cl.block(("Eve", "register_model", ["triage-7b", "ipfs://model/triage", 2 * OPEN,
                                                 [[datanet, 400_000], [contrib["Ada"], 50_000]]]))
        model = asset_id_of(h)
        names[model.hex()] = "triage-7b"
        h, = cl.block(("Finn", "register_agent", ["care-navigator", "ipfs://agent/care", 5 * OPEN,
                                                  [[model, 300_000]]]))
        agent = asset_id_of(h)
        names[agent.hex()] = "care-nav"
        cl.block(("Eve", "set_attributor", [model, a["Otto"]]))
        graph = cl.rpcs[1].query("upstream", id=agent.hex())
        print_graph(console, graph["graph"], names)
        cl.block(("Vic", "use", [model, 2 * OPEN]))
        console.print("\nVic uses the model at 2 OPEN: what the model keeps accrues to Eve, its only holder.")
        expires = cl.rpcs[0].get("/status")["height"] + 100
        cl.block(("Eve", "place_order", [model, "sell", SALE_SHARES, SALE_PRICE, expires]))
        book = cl.rpcs[3].query("book", id=model.hex())
        console.print(f"Eve offers {SALE_SHARES:,} shares at {SALE_PRICE} uopen each; the book of triage-7b "
                      f"(read with proofs): asks {[(x['price'], x['shares']) for x in book['asks']]}.")
        cl.block(("Gus", "place_order", [model, "buy", SALE_SHARES, SALE_PRICE, expires]))
        fills = cl.rpcs[2].query("fills", id=model.hex())
        console.print(f"Gus buys them: last price {fills['last_price']} uopen a share. The fill settled Eve "
                      "first, so what arrived before it is hers; from now on 75 / 25.")
        used = cl.block(*[("Uma", "use", [agent, 5 * OPEN]) for _ in range(uses)], ("Vic", "use", [model, 2 * OPEN]))
        console.print(f"\nUma uses the agent {uses} time(s) at 5 OPEN; Vic uses the model again at 2 OPEN. "
                      f"Otto is the model's attributor: each use's pool part waits in escrow.")
        quoted = attribute(cl, console, datanet, contrib, weights, [bytes.fromhex(h) for h in used], uses)
        cl.block(*[(w, "claim", [contrib[w]]) for w in weights])
        console.print("Ada, Bao and Chidi claim what their contributions accrued in the pool "
                      "(pool -> contribution -> holders); the others have not claimed yet.")
        model_graph = cl.rpcs[3].query("upstream", id=model.hex())
        paths = paths_from_graph(graph["graph"], names, "Uma's use: ")
        for cid in quoted:
            paths.setdefault(cid.hex(), []).append("Proof of Attribution: quoted in the answer to Uma")
        for k, v in paths_from_graph(model_graph["graph"], names, "Vic's use: ").items():
            paths.setdefault(k, []).extend(v)
        print_earnings(console, cl, names, paths)
        st = [node_status(n) for n in info.nodes]
        hashes = {s["app_hash"] for s in st if s}
        heights = [s["height"] for s in st if s]
        console.print(f"\nHeights {heights}; app hash after the last common height agrees on every node: "
                      f"{_same_app_hash(cl, min(heights))}.")
    finally:
        cl.close()


def attribute(cl: Client, console: Console, datanet: bytes, contrib: dict[str, bytes], weights: dict[str, int],
              uses: list[bytes], uma_uses: int) -> list[bytes]:
    """Otto scores the answer to Uma and attests each of her uses; wait until every escrow
    (Vic's too) is settled; print static weights beside the measurement. Returns the
    contributions the answer quoted."""
    from node.poa import span_v1
    from node.poa.index import Contribution
    from state.codec import decode_value
    from state.poa_records import ESCROW, Escrow, EscrowStatus, compute_attestation_id
    scores = score_answer(datanet, [Contribution(contrib[w], hashlib.sha256(read_notes()[w]).digest())
                                    for w in weights])
    console.print(f"\nOtto scores the agent's answer to Uma against the accepted notes ({span_v1.ALGORITHM}):")
    console.print(f"  [italic]{UMA_ANSWER.decode().strip()}[/]")
    console.print(quoted_line(scores, {cid: who for who, cid in contrib.items()}))
    cl.block(*[("Otto", "attest", [use, datanet, hashlib.sha256(UMA_ANSWER).digest(), span_v1.ALGORITHM,
                                   [[c, s] for c, s in scores]]) for use in uses[:uma_uses]])

    def escrow(use: bytes) -> Escrow:
        key = ESCROW + compute_attestation_id(use, datanet)
        return Escrow.decode(decode_value(bytes.fromhex(cl.rpcs[0].query("key", key=key.hex())["raw_value"])))
    settled = (EscrowStatus.PAID, EscrowStatus.FALLBACK)
    wait_for(lambda: all(escrow(u).status in settled for u in uses), 60, what="the attribution windows to close")
    console.print("Otto attests each of Uma's uses; nobody challenges; when the windows close the escrows are "
                  "paid by the measurement, and Vic's, never attested, by the pool's weights.")
    console.print()
    console.print(measured_table([escrow(u) for u in uses[:uma_uses]], contrib, weights))
    return [c for c, _ in scores]


def _same_app_hash(cl: Client, height: int) -> bool:
    return len({c.get("/query/key", key="00", height=height)["app_hash"] for c in cl.rpcs}) == 1


def print_graph(console: Console, root: dict, names: dict[str, str]) -> None:
    tree = Tree(f"[bold]{names.get(root['id'], root['name'])}[/] (the attribution graph above it, read from a node)")
    stack = [(root, tree)]
    while stack:
        node, t = stack.pop()
        for child in node["children"]:
            sub = t.add(f"{names.get(child['id'], child['name'])} [dim]({child['kind']}, edge "
                        f"{pct(child['weight_ppm'])} %, path {pct(child['path_ppm'])} %)[/]")
            stack.append((child, sub))
    console.print()
    console.print(tree)


def paths_from_graph(root: dict, names: dict[str, str], prefix: str) -> dict[str, list[str]]:
    """asset id -> the paths a payment to `root` takes to reach it (from the graph)."""
    out: dict[str, list[str]] = {}
    stack = [(root, [names.get(root["id"], root["name"])])]
    while stack:
        node, path = stack.pop()
        out.setdefault(node["id"], []).append(prefix + " > ".join(path))
        for c in node["children"]:
            stack.append((c, path + [names.get(c["id"], c["name"])]))
    return out


def print_earnings(console: Console, cl: Client, names: dict[str, str], paths: dict[str, list[str]]) -> None:
    table = Table(title="Who earned what: earned (paid out) and accrued (claimable), by asset (queried with proofs)")
    for col, just in (("account", "left"), ("asset", "left"), ("shares", "right"), ("earned (OPEN)", "right"),
                      ("accrued (OPEN)", "right"), ("along", "left")):
        table.add_column(col, justify=just)
    for name in CAST:
        q = cl.rpcs[2].query("holdings", address=encode_address(cl.addr[name]))
        rows = [r for r in q["holdings"] if r["earned"] or r["accrued"]]
        for row in rows:
            label = names.get(row["asset"], row["name"])
            how = list(paths.get(row["asset"], []))
            if label.startswith("notes/"):
                how += [f"claim: pool of notes, filled by {p}" for p in paths.get(
                    next(k for k, v in names.items() if v == "notes"), [])]
            elif label == "notes" and name == "Dana":
                how.append("Mallory's forfeited bond")
            table.add_row(name, label, f"{row['shares']:,}", fmt(row["earned"]), fmt(row["accrued"]), "\n".join(how))
        if rows:
            table.add_section()
    console.print()
    console.print(table)


def start_demo_testnet(info: TestnetInfo) -> None:
    """Start every node of a generated testnet and wait for the first block on each."""
    for n in info.nodes:
        start_node(n)
    wait_for(lambda: all((node_status(n) or {}).get("height", 0) >= 1 for n in info.nodes), 60,
             what="the first block")


@click.command("demo")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
              help="testnet directory (default: a temporary one, removed at the end)")
@click.option("--uses", default=3, show_default=True, type=click.IntRange(1, 100))
@click.option("--keep", is_flag=True, help="leave the testnet running")
def command(directory: Path | None, uses: int, keep: bool) -> None:
    """Start a 4-validator testnet, run the attribution story through it, print who earned what."""
    console = Console()
    tmp = None
    if directory is None:
        tmp = Path(tempfile.mkdtemp(prefix="attrchain-demo-"))
        directory = tmp
    t0 = time.monotonic()
    info = generate(directory, 4, chain_id="attrchain-demo", accounts=tuple(CAST), params=POA_PARAMS)
    try:
        start_demo_testnet(info)
        console.print(f"4 validators up, first block committed {time.monotonic() - t0:.1f} s after start "
                      f"({directory})")
        console.print(f"explorer: http://{info.nodes[0].rpc}/explorer/  (every node serves one at its RPC address)")
        run_story(info, Keyring(directory / "keyring"), console, uses)
    finally:
        if not keep:
            for n in info.nodes:
                stop_node(n)
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
        else:
            console.print(f"testnet left running, explorer at http://{info.nodes[0].rpc}/explorer/ ; "
                          f"see it with `attrchain testnet status --dir {directory}`, "
                          f"stop it with `attrchain testnet down --dir {directory}`")
