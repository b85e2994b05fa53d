"""`attrchain demo`: a ledger-only attribution story, applied through the real Ledger.

One process, a temporary LevelDB store, blocks built by `DevChain` and run through
`Ledger.execute_block` / `Ledger.commit` exactly as a node would. The story is the
essay's question -- who owns the value created by the data, models and agents? --
played out: three people contribute clinical notes to a datanet, a curator reviews
them (and rejects spam, whose bond is forfeited), a model is trained on the datanet and
on one outstanding contribution, an agent is built on the model, Eve sells a quarter of
the model's revenue rights on the order book and Gus buys it (revenue that arrived before
the fill is Eve's, after it Gus's), people use the agent and the model, and the
contributors claim their share.
The model has an attributor (Proof of Attribution, docs/poa.md): the pool part of each
use waits in escrow until the attributor attests which notes the answer drew on. Uma's
answer quotes Ada's and Chidi's notes and none of Bao's; the attestation (span-v1 over the
notes in testnet/demo_data/, whose sha256 are the contributions' content hashes) pays them
by measurement, and anyone holding the notes recomputes it. Vic's uses are never attested
and fall back to the pool's weights. It prints the graph, one payment traced along its
paths, the book, the measurement beside what static weights would have paid, and every
holder's earned (paid out) and accrued (claimable) revenue.
"""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

import trio

from node.poa import span_v1
from node.poa.chain import read_accepted_contributions
from node.poa.index import Contribution, build_index, match_files
from node.poa.verify import verify_use
from state.address import address_from_pubkey, encode_address
from state.asset_records import AssetKind, compute_asset_id, compute_contribution_id, get_earned
from state.asset_index import iter_list
from state.attribution import compute_use_flows, get_accrued, get_claimable
from state.context import BlockInfo, Context
from state.devchain import DevChain, seeded_key
from state.errors import Code
from state.graph import get_asset_view, get_upstream
from state.order_book import iter_levels
from state.params import Params
from state.poa_records import Escrow, EscrowStatus, get_escrow, get_use_escrows
from state.revenue import HOLDINGS_INDEX, get_position
from state.store import Store
from state.supply import check_supply_invariant
from state.tx import PPM, tx_id

OPEN = 1_000_000
SALE_SHARES, SALE_PRICE = 250_000, 8      # 25 % of the model at 8 uopen a share: 2 OPEN
CAST = {
    "Dana": "curates the rare-disease clinical-notes datanet",
    "Ada": "contributes 1,200 annotated notes (the best set)",
    "Bao": "contributes 500 notes",
    "Chidi": "contributes 200 notes",
    "Mallory": "submits a scraped duplicate (spam)",
    "Eve": "trains the triage model",
    "Gus": "buys 25 % of the triage model's revenue rights on the order book",
    "Finn": "builds the care-nav agent on the model",
    "Uma": "a clinic that uses the agent",
    "Vic": "a researcher who uses the model directly",
    "Otto": "runs the triage model's attributor (Proof of Attribution)",
}
DATA = Path(__file__).parent / "demo_data"        # the accepted notes, byte for byte
NOTES = {"Ada": "ada-notes.txt", "Bao": "bao-notes.txt", "Chidi": "chidi-notes.txt"}
# What the care-nav agent answered Uma: two passages of Ada's notes and Chidi's, none of Bao's.
UMA_ANSWER = (
    b"Care-navigator answer for Uma's clinic. The child with recurrent fevers every three to four "
    b"weeks, mouth ulcers, sore throat and swollen neck glands, well between episodes, most likely "
    b"has PFAPA syndrome: book a routine paediatric review. The grandfather's sudden painless loss "
    b"of vision in one eye in an adult over fifty needs an urgent eye examination on the same day, "
    b"so send him to eye casualty now.\n")
POA_PARAMS = Params(attestation_blocks=2, challenge_blocks=2)   # short windows, for the story


def read_notes() -> dict[str, bytes]:
    """The contributions' bytes: the three accepted notes and Mallory's scraped copy."""
    files = {who: (DATA / name).read_bytes() for who, name in NOTES.items()}
    files["Mallory"] = files["Ada"] + b"\n(scraped from a forum)\n"
    return files


def score_answer(datanet: bytes, accepted: list[Contribution]) -> list[tuple[bytes, int]]:
    """Otto's measurement: span-v1 over the accepted notes' files, of the answer to Uma."""
    documents, _ = match_files(DATA, accepted)
    return span_v1.score(UMA_ANSWER, build_index(datanet, documents))


def measured_table(escrows: list[Escrow], contributions: dict[str, bytes], weights: dict[str, int]) -> Table:
    """The escrowed pool parts of Uma's uses: what static weights would have paid each
    contribution beside what the measurement paid (the unquoted rest by weights; both
    before the pool accumulator's dust)."""
    total_weight = sum(weights.values())
    table = Table(title=f"The pool part of Uma's {len(escrows)} use(s): static weights vs measurement")
    for col in ("contribution", "weight", "static weights (OPEN)", "measured (OPEN)"):
        table.add_column(col, justify="left" if col == "contribution" else "right")
    for who, w in weights.items():
        cid = contributions[who]
        static = measured = 0
        for e in escrows:
            static += e.amount * w // total_weight
            paid = {c: e.amount * s // PPM for c, s in e.scores}
            measured += paid.get(cid, 0) + (e.amount - sum(paid.values())) * w // total_weight
        table.add_row(f"notes/{who}", f"{pct(w)} %", fmt(static), fmt(measured))
    return table


def quoted_line(scores: list[tuple[bytes, int]], names: dict[bytes, str]) -> str:
    rest = PPM - sum(s for _, s in scores)
    return ("  quoted: " + ", ".join(f"{names[cid]} {pct(s)} %" for cid, s in scores)
            + f"; the unquoted {pct(rest)} % goes to the pool by weights")


def pct(ppm: int) -> str:
    """ppm as a percentage, without floats: 125_000 -> '12.5'."""
    whole, frac = divmod(ppm, 10_000)
    return f"{whole}.{frac:04d}".rstrip("0").rstrip(".")


def fmt(uopen: int) -> str:
    """uopen as OPEN with six decimals, without floats."""
    sign = "-" if uopen < 0 else ""
    n = abs(uopen)
    return f"{sign}{n // OPEN:,}.{n % OPEN:06d}"


class Story:
    def __init__(self, store: Store, console: Console) -> None:
        self.keys = {name: seeded_key(f"demo/{name}") for name in CAST}
        self.addr = {name: address_from_pubkey(bytes(k.verify_key)) for name, k in self.keys.items()}
        self.name_of = {a: n for n, a in self.addr.items()}
        self.chain = DevChain(store, chain_id="attrchain-demo", track_state=True, params=POA_PARAMS,
                              accounts=[(k, 1_000 * OPEN) for k in self.keys.values()])
        self.asset_names: dict[bytes, str] = {}
        self.paths: dict[bytes, list[str]] = {}   # asset -> how revenue reached its holders
        self.console = console

    # --- driving the chain -------------------------------------------------------------------
    def block(self, *txs: tuple[str, str, tuple]) -> list[bytes]:
        """Apply one block of (sender, kind, fields); every tx must succeed."""
        raws = [self.chain.tx(self.keys[who], kind, *fields) for who, kind, fields in txs]
        result = self.chain.apply(raws)
        for (who, kind, _), r in zip(txs, result.tx_results):
            if r.code != Code.OK:
                raise click.ClickException(f"{who}'s {kind} failed: {r.code.name}: {r.log}")
        check_supply_invariant(self.chain.state)
        return raws

    def view(self) -> Context:
        """A read-only view of the committed state (with the chain's parameters)."""
        ledger = self.chain.ledger
        return Context(ledger.store.get, BlockInfo(ledger.chain_id, ledger.height + 1, 0, ledger.params))

    def who(self, address: bytes) -> str:
        return self.name_of.get(address, "validator " + encode_address(address)[:12] + "...")

    def label(self, asset_id: bytes) -> str:
        return self.asset_names.get(asset_id, asset_id.hex()[:10])

    def note_path(self, asset_id: bytes, how: str) -> None:
        seen = self.paths.setdefault(asset_id, [])
        if how not in seen:
            seen.append(how)

    def note_use(self, asset_id: bytes, price: int) -> None:
        """Remember the paths a use of `asset_id` pays along (before it is applied)."""
        for f in compute_use_flows(self.view(), asset_id, price)[1]:
            if f.to == "holders":
                self.note_path(f.recipient, "use " + " > ".join(self.label(x) for x in f.path))

    # --- the story -----------------------------------------------------------------------------
    def run(self, uses: int) -> None:
        c, a = self.console, self.addr
        c.rule("[bold]attrchain demo: who earns when an AI agent is used?")
        for name, role in CAST.items():
            c.print(f"  [bold]{name:8}[/] {role}")

        raw, = self.block(("Dana", "create_datanet", ("rare-disease notes", "ipfs://datanet/notes",
                                                      600_000, 5 * OPEN, [a["Dana"]])))
        datanet = compute_asset_id(tx_id(raw))
        self.asset_names[datanet] = "notes"
        files = read_notes()
        sizes = {"Ada": 1_200, "Bao": 500, "Chidi": 200, "Mallory": 1_200}
        hashes = {who: hashlib.sha256(data).digest() for who, data in files.items()}
        self.block(*[(who, "contribute", (datanet, hashes[who], sizes[who], f"ipfs://{who.lower()}-notes"))
                     for who in files])
        contributions = {who: compute_contribution_id(datanet, h) for who, h in hashes.items()}
        for who, cid in contributions.items():
            self.asset_names[cid] = f"notes/{who}"
        weights = {"Ada": 600_000, "Bao": 300_000, "Chidi": 100_000}
        self.block(*[("Dana", "review", (contributions[w], True, weight)) for w, weight in weights.items()],
                   ("Dana", "review", (contributions["Mallory"], False, 0)))
        self.note_path(datanet, "Mallory's forfeited bond")
        c.print(f"\nDana accepts Ada, Bao and Chidi with weights {', '.join(f'{w:,}' for w in weights.values())} "
                f"(bonds returned) and rejects Mallory's copy: its 5 OPEN bond goes to the datanet's holders.")

        raw, = self.block(("Eve", "register_model", ("triage-7b", "ipfs://model/triage", 2 * OPEN,
                                                     [[datanet, 400_000], [contributions["Ada"], 50_000]])))
        model = compute_asset_id(tx_id(raw))
        self.asset_names[model] = "triage-7b"
        raw, = self.block(("Finn", "register_agent", ("care-navigator", "ipfs://agent/care", 5 * OPEN,
                                                      [[model, 300_000]])))
        agent = compute_asset_id(tx_id(raw))
        self.asset_names[agent] = "care-nav"
        self.block(("Eve", "set_attributor", (model, a["Otto"])))
        c.print(f"\nEve, the model's top holder, names Otto its attributor and bonds "
                f"{fmt(self.chain.ledger.params.attributor_bond)} OPEN.")

        self.print_graph(agent)
        self.print_trace(agent, 5 * OPEN)
        self.note_use(model, 2 * OPEN)
        self.block(("Vic", "use", (model, 2 * OPEN)))
        before = get_claimable(self.view(), model, a["Eve"])
        c.print(f"\nVic uses the model at 2 OPEN: {fmt(before)} OPEN accrues to Eve, its only holder.")

        expires = self.chain.ledger.height + 100
        self.block(("Eve", "place_order", (model, "sell", SALE_SHARES, SALE_PRICE, expires)))
        self.print_book(model)
        self.block(("Gus", "place_order", (model, "buy", SALE_SHARES, SALE_PRICE, expires)))
        c.print(f"Gus buys the {SALE_SHARES:,} shares at {SALE_PRICE} uopen each "
                f"({fmt(SALE_SHARES * SALE_PRICE)} OPEN). The fill settles Eve first: the "
                f"{fmt(get_earned(self.view(), a['Eve'], model))} OPEN that arrived before it is paid to her; "
                "what arrives from now on is shared 75 / 25.")

        self.note_use(agent, 5 * OPEN)
        raws = self.block(*[("Uma", "use", (agent, 5 * OPEN)) for _ in range(uses)],
                          ("Vic", "use", (model, 2 * OPEN)))
        c.print(f"\nUma uses the agent {uses} time(s) at 5 OPEN; Vic uses the model again at 2 OPEN. "
                f"The pool part of each use waits in escrow for Otto's attestation.")
        self.attribute(datanet, contributions, weights, [tx_id(r) for r in raws[:uses]])

        view = self.view()
        c.print("\nAccrued in the contributor pool (claimable): " + ", ".join(
            f"{w} {fmt(get_accrued(view, contributions[w]))}" for w in weights))
        self.block(*[(w, "claim", (contributions[w],)) for w in weights])
        for w in weights:
            self.note_path(contributions[w], f"claim from the pool of {self.label(datanet)}")
        c.print("Ada, Bao and Chidi claim (pool -> contribution -> holders); the others have not claimed yet.")
        self.print_earnings()
        pool = get_asset_view(self.view(), datanet)
        ledger = self.chain.ledger
        total = check_supply_invariant(self.chain.state)
        c.print(f"\nPool dust kept: {fmt(pool['pool_balance'])} OPEN.  Supply invariant holds: "
                f"{fmt(total)} OPEN = genesis - burned.")
        c.print(f"Height {ledger.height}, app hash {ledger.app_hash.hex()}")

    def attribute(self, datanet: bytes, contributions: dict[str, bytes], weights: dict[str, int],
                  uma_uses: list[bytes]) -> None:
        """Otto scores Uma's answer and attests each of her uses; anyone re-checks; the
        windows run out and the escrows are paid (Vic's, never attested, by weights)."""
        c, store = self.console, self.chain.ledger.store

        async def read(key: bytes) -> bytes | None:
            return store.get(key)
        accepted = trio.run(read_accepted_contributions, read, datanet)
        scores = score_answer(datanet, accepted)
        c.print(f"\nOtto indexes the {len(accepted)} accepted notes ({DATA.name}/, a suffix array) and "
                f"scores the agent's answer to Uma with {span_v1.ALGORITHM}:")
        c.print(f"  [italic]{UMA_ANSWER.decode().strip()}[/]")
        c.print(quoted_line(scores, {cid: who for who, cid in contributions.items()}))
        self.block(*[("Otto", "attest", (use, datanet, hashlib.sha256(UMA_ANSWER).digest(), span_v1.ALGORITHM,
                                         [[cid, s] for cid, s in scores])) for use in uma_uses])

        async def read_at(key: bytes, height: int | None) -> bytes | None:
            return store.get(key) if height is None else store.get_at(key, height)
        findings = trio.run(verify_use, read_at, uma_uses[0], UMA_ANSWER, DATA)
        c.print(f"Otto attests each of Uma's uses. Anyone holding the notes recomputes it "
                f"(`attrchain poa verify`): {findings[0].status}; a mismatch could be challenged.")
        for cid, _ in scores:
            self.note_path(cid, "Proof of Attribution: quoted in the answer to Uma")
        view = self.view()
        escrows = [(aid, get_escrow(view, aid)) for use in uma_uses for aid in get_use_escrows(view, use)]
        for _ in range(2 * (POA_PARAMS.attestation_blocks + POA_PARAMS.challenge_blocks)):
            if all(get_escrow(self.view(), aid).status in (EscrowStatus.PAID, EscrowStatus.FALLBACK)
                   for aid, _ in escrows):
                break
            self.block()
        c.print()
        c.print(measured_table([e for _, e in escrows], contributions, weights))

    # --- output ----------------------------------------------------------------------------------
    def print_graph(self, asset_id: bytes) -> None:
        root = get_upstream(self.view(), asset_id)
        tree = Tree(f"[bold]{self.label(asset_id)}[/] (the attribution graph above it)")
        nodes = {id(root): tree}
        stack = [root]
        while stack:
            node = stack.pop()
            for child in node.children:
                kind = AssetKind(child.kind).name.lower()
                nodes[id(child)] = nodes[id(node)].add(
                    f"{self.label(child.asset_id)} [dim]({kind}, edge {pct(child.weight_ppm)} %, "
                    f"path {pct(child.path_ppm)} %)[/]")
                stack.append(child)
        self.console.print()
        self.console.print(tree)

    def print_trace(self, asset_id: bytes, price: int) -> None:
        fee, flows = compute_use_flows(self.view(), asset_id, price, as_use=True)
        tree = Tree(f"[bold]one use of {self.label(asset_id)} at {fmt(price)} OPEN[/]")
        tree.add(f"{fmt(fee)} protocol fee -> the block's validators")
        for f in flows:
            path = " -> ".join(self.label(x) for x in f.path)
            to = {"holders": f"{self.label(f.recipient)}'s holders",
                  "pool": f"{self.label(f.recipient)}'s contributor pool",
                  "escrow": f"escrow for {self.label(f.recipient)}'s attestation"}[f.to]
            tree.add(f"{fmt(f.amount):>12} to {to}  [dim]via {path}[/]")
        self.console.print()
        self.console.print(tree)

    def print_book(self, asset_id: bytes) -> None:
        view = self.view()
        for side, label in (("sell", "asks"), ("buy", "bids")):
            levels = ", ".join(f"{n:,} shares at {p} uopen ({k} order{'s' if k > 1 else ''})"
                               for p, n, k in iter_levels(view, asset_id, side, 5))
            self.console.print(f"  book of {self.label(asset_id)}, {label}: {levels or 'none'}")

    def print_earnings(self) -> None:
        view = self.view()
        table = Table(title="Revenue rights: earned (paid out) and accrued (claimable now), by asset")
        for col, just in (("account", "left"), ("asset", "left"), ("shares", "right"),
                          ("earned (OPEN)", "right"), ("accrued (OPEN)", "right"), ("along", "left")):
            table.add_column(col, justify=just)
        for name in CAST:
            rows = 0
            for asset in iter_list(view, HOLDINGS_INDEX, self.addr[name]):
                earned = get_earned(view, self.addr[name], asset)
                accrued = get_claimable(view, asset, self.addr[name])
                shares = get_position(view, asset, self.addr[name]).shares
                if earned or accrued:
                    table.add_row(name, self.label(asset), f"{shares:,}", fmt(earned), fmt(accrued),
                                  "\n".join(self.paths.get(asset, [])))
                    rows += 1
            if rows:
                table.add_section()
        self.console.print()
        self.console.print(table)


@click.command("demo")
@click.option("--uses", default=3, show_default=True, type=click.IntRange(1, 1_000),
              help="how many times Uma uses the agent")
def command(uses: int) -> None:
    """Run a scripted attribution workload through the ledger and show who earned what."""
    console = Console()
    with tempfile.TemporaryDirectory(prefix="attrchain-demo-") as tmp:
        store = Store(tmp + "/db")
        try:
            Story(store, console).run(uses)
        finally:
            store.close()
