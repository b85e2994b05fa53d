// Assets: the attribution graph upstream and downstream (drawn, with edge weights and path
// shares), the holders, the uses to follow, a model's attributor, the book and the last fills.
import { searchForm } from "./accounts.js";
import { chainIndex } from "./chainindex.js";
import { drawDag } from "./dag.js";
import { attributorView } from "./attestation.js";
import { figures, h, link, open, pct, section, short, table } from "./dom.js";
import { rpc } from "./rpc.js";

// contributions have no name of their own
export const assetName = (n) => n.name || `${n.kind} ${short(n.id, 8)}`;

// The RPC's graph is a tree (an asset reached along two paths appears twice); merge it into
// a DAG: one node per asset, one edge per (payer, source) pair, and each asset's path
// share summed over every path that reaches it. Edges point the way payments flow.
export function treeToDag(root, downstream) {
  const nodes = new Map(), edges = new Map();
  const stack = [root];
  while (stack.length) {
    const n = stack.pop();
    const seen = nodes.get(n.id);
    if (seen) seen.share += n.path_ppm;
    else nodes.set(n.id, { id: n.id, name: assetName(n), kind: n.kind, share: n.path_ppm });
    for (const c of n.children) {
      const [from, to] = downstream ? [c.id, n.id] : [n.id, c.id];
      edges.set(`${from}>${to}`, { from, to, weight: c.weight_ppm });
      stack.push(c);
    }
  }
  return { nodes: [...nodes.values()], edges: [...edges.values()] };
}

function graphSection(title, answer, downstream, rootId) {
  const { nodes, edges } = treeToDag(answer.graph, downstream);
  const name = new Map(nodes.map((n) => [n.id, n.name]));
  const shareWord = downstream ? "of a payment there reaches this asset" : "of a payment here reaches it";
  const drawn = drawDag(
    nodes.map((n) => ({ id: n.id, label: n.name, href: `#/asset/${n.id}`, cls: n.id === rootId ? "root" : "",
      sub: `${n.kind} · ${n.id === rootId ? "this asset" : pct(n.share)}` })),
    edges.map((e) => ({ ...e, label: pct(e.weight) })),
    `${title}: ${nodes.length} assets, ${edges.length} edges`);
  drawn.dataset.graph = downstream ? "downstream" : "upstream";
  return section(title,
    nodes.length > 1 ? drawn : h("p", {}, downstream ? "Nothing is built on this asset yet." : "This asset has no sources."),
    nodes.length > 1
      ? table(`${title} as a table: each edge, its weight, and the share ${shareWord}`,
          ["from (pays)", "to (source)", "edge weight", "path share of the source"],
          edges.map((e) => [link(`#/asset/${e.from}`, name.get(e.from)), link(`#/asset/${e.to}`, name.get(e.to)), pct(e.weight),
            pct(nodes.find((n) => n.id === (downstream ? e.from : e.to)).share)]), { "data-edges": downstream ? "downstream" : "upstream" })
      : null,
    answer.truncated ? h("p", { class: "small" }, "Truncated: the node returns a bounded part of a large graph.") : null);
}

const price = (p) => (p === null || p === undefined ? "—" : `${p} uopen/share`);

function bookView(book) {
  const side = (name, levels) => (levels.length
    ? table(`${name}: price levels, best first`, ["price (uopen/share)", "shares", "orders"],
        levels.map((l) => [String(l.price), String(l.shares), String(l.orders)]), { id: name.toLowerCase() })
    : h("p", {}, `${name}: none.`));
  return h("div", {},
    figures([["best bid", price(book.best_bid), "best-bid"], ["best ask", price(book.best_ask), "best-ask"],
      ["last price", price(book.last_price), "last-price"]]),
    side("Bids", book.bids), side("Asks", book.asks));
}

function fillsView(f) {
  const acct = (a) => link(`#/account/${a}`, short(a, 14), { class: "mono" });
  return h("div", {},
    figures([["fills", String(f.fills_total), "fills-total"], ["last price", price(f.last_price)],
      ["last fill at height", f.last_fill_height ? String(f.last_fill_height) : "—"]]),
    f.fills.length
      ? table("The last fills, newest first", ["height", "price (uopen/share)", "shares", "buyer", "seller"],
          f.fills.map((x) => [link(`#/block/${x.height}`, String(x.height)), String(x.price), String(x.shares),
            acct(x.buyer), acct(x.seller)]), { id: "fills" })
      : h("p", {}, "No fill yet."));
}

export async function assetsPage() {
  const idx = await chainIndex();
  return h("div", {},
    h("h1", { tabindex: -1 }, "Assets"),
    searchForm("Asset id", "64 hex characters", "asset"),
    section("Created in the recent blocks",
      idx.assets.length
        ? table("Assets created in the recent blocks", ["name", "kind", "id", "creator", "height"],
            idx.assets.map((a) => [link(`#/asset/${a.id}`, a.name), a.kind, h("span", { class: "mono" }, short(a.id, 16)),
              link(`#/account/${a.creator}`, short(a.creator, 14), { class: "mono" }), String(a.height)]), { id: "assets" })
        : h("p", {}, "No asset created in the recent blocks.")));
}

export async function assetPage(id) {
  const [q, up, down, idx, book, fills] = await Promise.all([
    rpc("/query/asset", { id }), rpc("/query/upstream", { id }), rpc("/query/downstream", { id }), chainIndex(),
    rpc("/query/book", { id }), rpc("/query/fills", { id })]);
  const a = q.asset;
  const attributor = a.kind === "model" ? await rpc("/query/attributor", { id }) : null;
  const extra = a.kind === "datanet"
    ? [["contributor share", pct(a.contributor_share_ppm)], ["contribution bond", `${open(a.contribution_bond)} OPEN`],
       ["accepted contributions", String(a.accepted)], ["pool balance", `${open(a.pool_balance)} OPEN`]]
    : a.kind === "contribution"
      ? [["datanet", link(`#/asset/${a.datanet}`, short(a.datanet, 16))], ["status", a.status], ["weight", String(a.weight)],
         ["accrued (claimable)", `${open(a.accrued)} OPEN`]]
      : [];
  const uses = idx.uses.filter((u) => u.asset === id && u.ok);
  return h("div", {},
    h("h1", { tabindex: -1 }, `${a.name || "Asset"} `, h("span", { class: "kind" }, a.kind)),
    h("p", { class: "mono break" }, a.id),
    figures([
      ["kind", a.kind, "kind"], ["creator", link(`#/account/${a.creator}`, short(a.creator, 16))],
      ["price", `${open(a.price)} OPEN`, "price"], ["metadata", a.metadata_uri], ["reaches (expansion)", `${a.expansion} assets`],
      ...(a.vault !== undefined ? [["vault (accrued to holders, not yet claimed)", `${open(a.vault)} OPEN`, "vault"]] : []),
      ...extra]),
    section("Holders",
      table("Revenue-rights holders, the 16 largest (shares of 1,000,000)", ["account", "share"],
        a.holders.map(([acct, n]) => [link(`#/account/${acct}`, acct, { class: "mono" }), pct(n)]), { id: "holders" })),
    graphSection("Upstream: what it is built on", up, false, id),
    graphSection("Downstream: what is built on it", down, true, id),
    section("Follow a payment",
      uses.length
        ? h("ul", { class: "plain", id: "uses" }, uses.map((u) => h("li", {},
            link(`#/payment/${u.hash}`, `use at height ${u.height} by ${short(u.payer, 14)}`), " ",
            h("span", { class: "mono small" }, short(u.hash, 12)))))
        : h("p", {}, a.kind === "model" || a.kind === "agent" ? "No use of it in the recent blocks." : "Only models and agents are used.")),
    attributor ? section("Proof-of-Attribution attributor", attributorView(attributor)) : null,
    section("Order book", bookView(book)),
    section("Last fills", fillsView(fills)));
}
