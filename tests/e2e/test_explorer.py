"""The explorer in a real headless Chromium (Debian's, driven by playwright) against a live
4-validator testnet after the demo story: every page loads with no console error and
shows what the RPC says; the graph has the expected nodes and edges; a followed payment
sums to its price; the tx root proof is checked by the page's own JS. Screenshots go to
artifacts/explorer/ (printed at the end of the run)."""
from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from rich.console import Console

from node.config import load_config, save_config
from node.keys import Keyring, encode_address
from node.cli.rpc_client import RpcClient
from state.simple_merkle import merkle_proof, merkle_root
from testnet.demo_testnet import CAST, Client, asset_id_of, run_story, start_demo_testnet
from testnet.network import generate, node_status, start_node, stop_node, wait_for

pytestmark = [pytest.mark.xdist_group("e2e"), pytest.mark.slow, pytest.mark.timeout(240)]

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "explorer"
# The explorer's lists and uptime grid show the last 100 blocks (chainindex.js, network.js).
# The story runs at 0.3 s a block, the tests at 5 s: at 0.3 s a loaded machine's tests
# found the story's blocks gone from those windows.
TESTS_BLOCK_MS = 5000


def slow_down(info, timeout_commit_ms: int) -> None:
    """Restart every node with this block interval; wait until all commit again, peered."""
    top = max(node_status(n)["height"] for n in info.nodes)
    for n in info.nodes:
        stop_node(n)
    for n in info.nodes:
        path = Path(n.home) / "config" / "config.toml"
        cfg = load_config(path)
        cfg.consensus.timeout_commit_ms = timeout_commit_ms
        save_config(path, cfg)
        start_node(n)
    wait_for(lambda: all((st := node_status(n)) and st["height"] > top and st["peers"] == len(info.nodes) - 1
                         for n in info.nodes), 120, what="the restarted nodes to commit, peered")


def all_txs(rpc: RpcClient) -> list[dict]:
    """Every tx of the chain, oldest first (paged: /blockchain answers 100 blocks at most)."""
    blocks, top = [], None
    while top is None or top > 0:
        page = rpc.get("/blockchain", limit=100, **({} if top is None else {"max_height": top}))["blocks"]
        if not page:
            break
        blocks += page
        top = min(b["height"] for b in page) - 1
    return [dict(t, height=b["height"]) for b in sorted(blocks, key=lambda b: b["height"]) if b["num_txs"]
            for t in rpc.get("/block_results", height=b["height"])["txs"]]



class Chain:
    """The testnet after the story, and what its RPC says (the test's source of truth)."""

    def __init__(self, info, directory: Path):
        self.info = info
        ring = Keyring(directory / "keyring")
        self.addr = {name: encode_address(ring.get(name).address) for name in CAST}
        self.base = "http://" + info.nodes[0].rpc
        self.rpc = RpcClient(info.nodes[0].rpc, timeout=10)
        self.txs = all_txs(self.rpc)
        self.assets = {t["args"]["name"]: t["creates"] for t in self.txs
                       if t["kind"] in ("create_datanet", "register_model", "register_agent")}
        self.uses = [t for t in self.txs if t["kind"] == "use" and t["result"]["code"] == 0]
        by_address = {a: name for name, a in self.addr.items()}
        self.contributions = {by_address[t["sender"]]: t["creates"] for t in self.txs if t["kind"] == "contribute"}


@pytest.fixture(scope="module")
def chain():
    d = Path(tempfile.mkdtemp(prefix="attrchain-explorer-"))
    info = generate(d, 4, chain_id="attrchain-demo", accounts=tuple(CAST),
                    config_overrides={"consensus": {"timeout_commit_ms": 300}})
    try:
        start_demo_testnet(info)
        run_story(info, Keyring(d / "keyring"), Console(file=io.StringIO()), uses=2)
        # a model with no attributor, used once: its use opens no Proof-of-Attribution escrow
        cl = Client(info, Keyring(d / "keyring"), Console(file=io.StringIO()))
        h, = cl.block(("Vic", "register_model", ["plain-model", "ipfs://model/plain", 1_000_000, []]))
        cl.block(("Vic", "use", [asset_id_of(h), 1_000_000]))
        cl.close()
        slow_down(info, TESTS_BLOCK_MS)
        c = Chain(info, d)
        yield c
        c.rpc.close()
    finally:
        for n in info.nodes:
            stop_node(n)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(request):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="attrchain-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": 1280, "height": 900})
        try:
            yield ctx
        finally:
            ctx.close()
            shutil.rmtree(profile, ignore_errors=True)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"explorer screenshots: {ARTIFACTS}")


class Page:
    """One page of the explorer; records console errors, which fail the test."""

    def __init__(self, ctx, base: str):
        self.base = base
        self.page = ctx.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def _console(self, msg) -> None:
        if msg.type == "error":
            self.errors.append(f"{msg.text} ({msg.location.get('url', '')})")

    def open(self, route: str):
        """Go to `route` and wait until it is rendered (data-ready counts route renders; a
        CSP page: wait on selectors, as wait_for_function's string predicate is an eval)."""
        before = self.page.evaluate("() => document.body?.dataset.ready ?? ''") if self.page.url != "about:blank" else ""
        self.page.goto(f"{self.base}/explorer/{route}")
        self.page.wait_for_selector(f'body[data-ready]:not([data-ready="{before}"])', state="attached")
        return self.page

    def text(self, selector: str) -> str:
        return self.page.locator(selector).first.inner_text()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.page.close()
        assert self.errors == [], self.errors


@pytest.fixture
def page(browser, chain):
    p = Page(browser, chain.base)
    yield p
    p.close()


def pct(ppm: int) -> str:
    whole, frac = divmod(ppm, 10_000)
    return (f"{whole}.{frac:04d}".rstrip("0").rstrip(".")) + " %"


def uopen(text: str) -> int:
    """'1,234.500000' (as the page prints OPEN) -> uopen."""
    whole, frac = text.replace(",", "").split(".")
    return int(whole) * 1_000_000 + int(frac)


def uptime_grid(pg) -> dict[str, list[tuple[int, bool]]]:
    """validator address -> [(height, signed)] as the grid shows them, oldest first (read in
    one evaluation: the page re-renders as it polls)."""
    rows = pg.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.uptime-row')].map(
        (r) => [r.dataset.validator, [...r.querySelectorAll('[title^="height "]')].map((c) => c.title)]))""")
    parsed = {}
    for address, titles in rows.items():
        cells = [t.removeprefix("height ").split(": ") for t in titles]
        assert all(state in ("signed", "missed") for _, state in cells), titles
        parsed[address] = [(int(x), state == "signed") for x, state in cells]
    return parsed


def test_network_page(page, chain):
    before = chain.rpc.status()
    pg = page.open("#/network")
    vals = chain.rpc.get("/validators")
    assert int(page.text('[data-figure="height"]')) >= before["height"]
    assert page.text('[data-figure="validators"]') == "4" == str(len(vals["validators"]))
    assert page.text('[data-figure="peers"]') == str(before["peers"]) == "3"
    rows = pg.locator("#validators tbody tr")
    assert rows.count() == 4 and all(rows.nth(i).locator("td").first.inner_text() == "100" for i in range(4))
    # the uptime grid: one row per validator, one cell per block of the last 100 (whichever
    # those are when the page rendered), coloured by the commit's signatures
    grid = uptime_grid(pg)
    assert sorted(grid) == sorted(v["address"] for v in vals["validators"])
    heights = [x for x, _ in grid[vals["validators"][0]["address"]]]
    assert heights == list(range(heights[-1] - len(heights) + 1, heights[-1] + 1))
    assert heights[-1] >= before["height"] and len(heights) == min(100, heights[-1])
    assert all([x for x, _ in row] == heights for row in grid.values())
    # the newest commit may still gain late precommits; every older one is final (block h+1's)
    for x in heights[:-1]:
        signed = {s["validator"] for s in chain.rpc.get("/commit", height=x)["commit"]["signatures"]}
        assert {a: dict(row)[x] for a, row in grid.items()} == {a: a in signed for a in grid}, x
    shown = pg.locator("#consensus tbody tr th").all_inner_texts()
    assert [t[:12] for t in shown] == [v["address"][:12] for v in vals["validators"]]
    assert int(page.text('[data-figure="cs-height"]')) >= before["height"]
    assert pg.locator("#peers tbody tr").count() == 3
    page.shot("network")
    # live: the page polls; the height it shows moves on without a reload
    height = pg.locator('[data-figure="height"]')
    expect(height).not_to_have_text(height.inner_text(), timeout=20_000)
    pg.set_viewport_size({"width": 390, "height": 844})
    assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.shot("network-phone")


def test_blocks_block_and_tx_with_its_proof_checked_in_the_browser(page, chain):
    pg = page.open("#/blocks")
    top = int(pg.locator("#blocks tbody tr").first.locator("th").inner_text())
    assert top >= chain.txs[-1]["height"]
    use = chain.uses[0]
    page.open(f"#/block/{use['height']}")
    kinds = [t["kind"] for t in chain.rpc.get("/block_results", height=use["height"])["txs"]]
    cells = pg.locator("#block-txs tbody tr td:nth-child(3)")
    assert [cells.nth(i).inner_text() for i in range(cells.count())] == kinds
    page.shot("block")
    page.open(f"#/tx/{use['hash']}")
    assert pg.locator('[data-proof]').get_attribute("data-proof") == "verified"
    assert page.text('[data-figure="tx-kind"]') == "use"
    page.shot("tx")


def test_the_pages_merkle_check_is_the_projects(page, chain):
    """The page's JS against state/simple_merkle.py: the same roots, every proof accepted,
    a tampered aunt, index or leaf refused."""
    pg = page.open("#/blocks")
    for n in range(1, 10):
        leaves = [bytes([i]) * 32 for i in range(n)]
        root = merkle_root(leaves).hex()
        got = pg.evaluate("async (x) => (await import('./merkle.js')).merkleRoot(x)", [x.hex() for x in leaves])
        assert got == root
        for i in range(n):
            aunts = [a.hex() for a in merkle_proof(leaves, i)]
            check = ("async ([r, l, i, n, a]) => (await import('./merkle.js')).verifyMerkleProof(r, l, i, n, a)")
            assert pg.evaluate(check, [root, leaves[i].hex(), i, n, aunts]) is True
            assert pg.evaluate(check, [root, leaves[i].hex(), (i + 1) % n, n, aunts]) is (n == 1)
            assert pg.evaluate(check, [root, "ff" * 32, i, n, aunts]) is False
            if aunts:
                bad = [("00" if a[:2] != "00" else "11") + a[2:] for a in aunts]
                assert pg.evaluate(check, [root, leaves[i].hex(), i, n, bad]) is False


def test_account_page(page, chain):
    ada = chain.addr["Ada"]
    pg = page.open(f"#/account/{ada}")
    acct = chain.rpc.query("account", address=ada)
    earn = chain.rpc.query("earnings", address=ada)
    assert uopen(page.text('[data-figure="balance"]').split()[0]) == acct["balance"]
    assert uopen(page.text('[data-figure="earned"]').split()[0]) == earn["total"] > 0
    rows = pg.locator("#earnings tbody tr")
    assert [uopen(rows.nth(i).locator("td").nth(1).inner_text()) for i in range(rows.count())] == \
        [e["amount"] for e in earn["earnings"]]
    assert pg.locator("#orders").count() == 0 and "Open orders: none." in page.text("main")
    page.shot("account")
    gus = chain.addr["Gus"]
    page.open(f"#/account/{gus}")
    held = chain.rpc.query("holdings", address=gus)["holdings"]
    rows = pg.locator("#holdings tbody tr")
    assert rows.count() == len(held) >= 1
    for i, r in enumerate(held):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert (cells[1], uopen(cells[3]), uopen(cells[4])) == (pct(r["shares"]), r["earned"], r["accrued"])
    assert pct(next(r["shares"] for r in held if r["name"] == "triage-7b")) == "25 %"


def graph_edges(root: dict, downstream: bool) -> set[tuple[str, str]]:
    out, stack = set(), [root]
    while stack:
        n = stack.pop()
        for c in n["children"]:
            out.add((c["id"], n["id"]) if downstream else (n["id"], c["id"]))
            stack.append(c)
    return out


def drawn(pg, which: str) -> tuple[set[str], set[tuple[str, str]]]:
    svg = pg.locator(f'[data-graph="{which}"] svg')
    nodes = set(svg.locator(".node").evaluate_all("ns => ns.map(n => n.dataset.id)"))
    edges = svg.locator(".edge").evaluate_all("es => es.map(e => [e.dataset.from, e.dataset.to])")
    return nodes, {tuple(e) for e in edges}


def test_asset_graph_upstream_and_downstream(page, chain):
    agent, model = chain.assets["care-navigator"], chain.assets["triage-7b"]
    pg = page.open(f"#/asset/{agent}")
    up = chain.rpc.query("upstream", id=agent)["graph"]
    want = graph_edges(up, False)
    nodes, edges = drawn(pg, "upstream")
    assert edges == want and nodes == {x for e in want for x in e}
    assert len(nodes) == 4   # the agent, the model, the datanet, Ada's contribution
    labels = pg.locator('[data-graph="upstream"] .edge-label').all_text_contents()
    assert sorted(labels) == sorted(["30 %", "40 %", "5 %"])
    assert pg.locator("#holders tbody tr").count() == 1 and "No fill yet." in page.text("main")
    page.shot("asset-agent")
    page.open(f"#/asset/{model}")
    down = chain.rpc.query("downstream", id=model)["graph"]
    nodes, edges = drawn(pg, "downstream")
    assert edges == graph_edges(down, True) == {(agent, model)}
    holders = chain.rpc.query("asset", id=model)["asset"]["holders"]
    assert pg.locator("#holders tbody tr").count() == len(holders) == 2   # Eve and Gus
    attributor = chain.rpc.query("attributor", id=model)["attributor"]
    assert attributor["operator"] == chain.addr["Otto"]
    assert pg.locator(f'[data-attributor="{attributor["operator"]}"]').count() == 1
    assert uopen(page.text('[data-figure="attributor-bond"]').split()[0]) == attributor["bond"]
    # the book and the last fills, as the RPC gives them (Gus bought Eve's sell order whole)
    fills = chain.rpc.query("fills", id=model)
    rows = pg.locator("#fills tbody tr")
    assert rows.count() == len(fills["fills"]) >= 1
    first = rows.first.locator("td").all_inner_texts()
    f0 = fills["fills"][0]
    assert (int(first[0]), int(first[1]), first[2][:12], first[3][:12]) == \
        (f0["price"], f0["shares"], f0["buyer"][:12], f0["seller"][:12])
    book = chain.rpc.query("book", id=model)
    assert page.text('[data-figure="last-price"]') == f"{book['last_price']} uopen/share"
    assert pg.locator("#asks tbody tr").count() == len(book["asks"])
    page.shot("asset-model")
    # keyboard: the graph's nodes are links; Enter on one opens that asset
    pg.locator(f'[data-graph="upstream"] a.node[data-id="{chain.assets["rare-disease notes"]}"]').focus()
    pg.keyboard.press("Enter")
    pg.wait_for_selector("h1:has-text('rare-disease notes')")
    assert pg.url.endswith(f"#/asset/{chain.assets['rare-disease notes']}")


def test_follow_a_payment_sums_to_its_price(page, chain):
    use = next(u for u in chain.uses if u["args"]["asset"] == chain.assets["care-navigator"])
    pg = page.open(f"#/asset/{use['args']['asset']}")
    pg.locator(f'#uses a[href="#/payment/{use["hash"]}"]').click()
    pg.wait_for_selector("#flows")
    flows = chain.rpc.get("/use_flows", hash=use["hash"])
    amounts = [uopen(t) for t in pg.locator("#flows tbody tr td:nth-child(3)").all_inner_texts()]
    fee = uopen(page.text('[data-figure="pay-fee"]').split()[0])
    price = uopen(page.text('[data-figure="pay-price"]').split()[0])
    assert fee + sum(amounts) == price == flows["price"] == 5_000_000
    assert amounts == [f["amount"] for f in flows["flows"]]
    assert page.text('[data-figure="pay-sums"]') == "yes"
    # each account: its pro rata part of the holders' amounts, as the node splits them
    want = {}
    for f in flows["flows"]:
        for hd in f.get("holders", []):
            want[hd["address"]] = want.get(hd["address"], 0) + hd["amount"]
    rows = pg.locator("#accounts tbody tr")
    got = {rows.nth(i).locator("th").inner_text(): uopen(rows.nth(i).locator("td").inner_text()) for i in range(rows.count())}
    assert got == want and len(got) >= 3
    drawn_nodes, _ = drawn(pg, "payment")
    assert {f"acct:{a}" for a in want} <= drawn_nodes
    # its Proof-of-Attribution escrow: Otto's span-v1 scores of the answer to Uma (docs/poa.md,
    # "The demo"), paid; the measurement beside static weights, row by row as the RPC gives them
    [e] = chain.rpc.query("attestation", hash=use["hash"])["escrows"]
    assert {s["contribution"]: s["score_ppm"] for s in e["scores"]} == \
        {chain.contributions["Ada"]: 357_142, chain.contributions["Chidi"]: 314_285}
    box = pg.locator(f'.escrow[data-attestation="{e["attestation"]}"]')
    assert box.locator('[data-figure="escrow-status"]').inner_text() == e["status"] == "paid"
    assert uopen(box.locator('[data-figure="escrow-amount"]').inner_text().split()[0]) == e["amount"] > 0
    rows = box.locator("table.scores tbody tr")
    shown = [(r.locator("th a").get_attribute("href") if r.locator("th a").count() else "others",
              *r.locator("td").all_inner_texts()) for r in rows.all()]
    want = [(f"#/asset/{x['contribution']}", pct(x["score_ppm"]), pct(x["weight"]), x["static"], x["measured"])
            for x in e["scores"]] + [("others", "—", pct(e["others"]["weight"]), e["others"]["static"],
                                      e["others"]["measured"])]
    assert [(a, b, c, uopen(d), uopen(f)) for a, b, c, d, f in shown] == want
    row = {x[0]: x[3:] for x in want}      # Chidi, quoted, is paid more than by weights; Bao, never quoted, less
    chidi, bao = row[f"#/asset/{chain.contributions['Chidi']}"], row["others"]
    assert chidi[1] > chidi[0] and bao[1] < bao[0]
    page.shot("payment")
    pg.set_viewport_size({"width": 390, "height": 844})   # the graph scrolls in its box, the page does not
    assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.shot("payment-phone")


def test_a_use_without_escrow_and_a_model_without_attributor(page, chain):
    """Both are answered (no request fails, no console error) and the page says so."""
    model = chain.assets["plain-model"]
    assert chain.rpc.query("attributor", id=model)["attributor"] is None
    pg = page.open(f"#/asset/{model}")
    assert pg.locator('[data-attributor="none"]').count() == 1
    use = next(u for u in chain.uses if u["args"]["asset"] == model)
    assert chain.rpc.query("attestation", hash=use["hash"])["escrows"] == []
    page.open(f"#/payment/{use['hash']}")
    assert pg.locator('[data-attestations="0"]').count() == 1
    assert page.text('[data-figure="pay-sums"]') == "yes"


def test_keyboard_navigation_and_lists(page, chain):
    pg = page.open("#/network")
    pg.keyboard.press("Tab")
    assert pg.evaluate("document.activeElement.className") == "skip"
    for _ in range(4):   # the skip link, then Network, Blocks, Accounts, Assets
        pg.keyboard.press("Tab")
    assert pg.evaluate("document.activeElement.dataset.nav") == "assets"
    pg.keyboard.press("Enter")
    pg.wait_for_selector("#assets")
    listed = set(pg.locator("#assets tbody tr th a").all_inner_texts())
    assert {"rare-disease notes", "triage-7b", "care-navigator"} <= listed
    page.open("#/accounts")
    shown = set(pg.locator("main li a").all_inner_texts())
    assert {chain.addr[n] for n in ("Uma", "Gus", "Ada")} <= shown
