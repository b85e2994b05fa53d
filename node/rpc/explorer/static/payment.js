// "Follow a payment": where the price of one `use` went, amount by amount, along each path
// of the attribution graph (the node's /use_flows, computed by the ledger's own code).
import { drawDag } from "./dag.js";
import { attestationView } from "./attestation.js";
import { figures, h, link, open, section, short, table } from "./dom.js";
import { assetName } from "./assets.js";
import { rpc } from "./rpc.js";

// A flow stops at an asset's holders (who accrue it pro rata to their shares) or at a
// datanet's contributor pool; the node lists the split over the asset's largest holders.
const stopNode = (f) => `${f.to}:${f.recipient}`;

// The graph of one payment: the assets it passed through, the holders and pools where it
// stopped, the accounts those holders are, each edge labelled with the amount along it.
function paymentGraph(pay, names) {
  const nodes = new Map(), edges = new Map();
  const addNode = (id, label, sub, href, cls) => nodes.has(id) || nodes.set(id, { id, label, sub, href, cls });
  const addEdge = (from, to, amount) => {
    const e = edges.get(`${from}>${to}`) ?? edges.set(`${from}>${to}`, { from, to, amount: 0 }).get(`${from}>${to}`);
    e.amount += amount;
  };
  const through = new Map();
  for (const f of pay.flows) for (const a of f.path) through.set(a, (through.get(a) ?? 0) + f.amount);
  for (const f of pay.flows) {
    f.path.forEach((a, i) => {
      addNode(a, names.get(a) ?? short(a), `reached: ${open(through.get(a))}`, `#/asset/${a}`, i === 0 ? "root" : "");
      if (i) addEdge(f.path[i - 1], a, f.amount);
    });
    const stop = stopNode(f);
    addNode(stop, `${f.to === "holders" ? "holders" : "pool"} of ${names.get(f.recipient) ?? short(f.recipient)}`,
      f.to === "holders" ? "accrue pro rata" : "contributor pool", `#/asset/${f.recipient}`, "sink");
    addEdge(f.path[f.path.length - 1], stop, f.amount);
    for (const hd of f.holders ?? []) {
      addNode(`acct:${hd.address}`, short(hd.address, 14), "account", `#/account/${hd.address}`, "sink");
      addEdge(stop, `acct:${hd.address}`, hd.amount);
    }
  }
  const drawn = drawDag([...nodes.values()], [...edges.values()].map((e) => ({ ...e, label: open(e.amount) })),
    `the payment's paths: ${nodes.size} stops, ${edges.size} edges`);
  drawn.dataset.graph = "payment";
  return drawn;
}

export async function paymentPage(hash) {
  const [pay, attestation] = await Promise.all([rpc("/use_flows", { hash }), rpc("/query/attestation", { hash })]);
  const up = await rpc("/query/upstream", { id: pay.asset });
  const names = new Map();
  const stack = [up.graph];
  while (stack.length) { const n = stack.pop(); names.set(n.id, assetName(n)); stack.push(...n.children); }
  const paid = pay.flows.reduce((s, f) => s + f.amount, 0);
  const byAccount = new Map();
  for (const f of pay.flows) for (const hd of f.holders ?? []) byAccount.set(hd.address, (byAccount.get(hd.address) ?? 0) + hd.amount);
  const escrowed = new Set(attestation.escrows.map((e) => e.datanet));
  const who = (f) => h("span", {}, f.to === "holders" ? "holders of " : "contributor pool of ",
    link(`#/asset/${f.recipient}`, names.get(f.recipient) ?? short(f.recipient)),
    f.to === "pool" && escrowed.has(f.recipient) ? " (held in escrow: paid as the attestation below says)" : null);
  const sums = pay.protocol_fee + paid === pay.price;
  return h("div", {},
    h("h1", { tabindex: -1 }, `A payment to ${names.get(pay.asset) ?? short(pay.asset)}`),
    figures([
      ["use tx", link(`#/tx/${pay.hash}`, short(pay.hash, 16))], ["block", link(`#/block/${pay.height}`, String(pay.height))],
      ["payer", link(`#/account/${pay.payer}`, short(pay.payer, 16))], ["price", `${open(pay.price)} OPEN`, "pay-price"],
      ["protocol fee (to the validators)", `${open(pay.protocol_fee)} OPEN`, "pay-fee"],
      ["paid along the graph", `${open(paid)} OPEN`, "pay-flows"],
      ["fee + paid = price", sums ? "yes" : "NO", "pay-sums"],
    ]),
    section("Where it went", paymentGraph(pay, names)),
    section("Each amount, along each path",
      table(`${pay.flows.length} amounts that stopped at an asset's holders or a contributor pool`, ["path (from the asset used)", "stopped at", "amount (OPEN)"],
        pay.flows.map((f) => [f.path.map((a) => names.get(a) ?? short(a)).join(" → "), who(f), open(f.amount)]),
        { id: "flows" })),
    section("By account",
      table("What each account accrued from it (its shares of the holders' amounts, rounded down here; the fraction of a uopen carries over in its position)",
        ["account", "amount (OPEN)"],
        [...byAccount.entries()].map(([a, n]) => [link(`#/account/${a}`, a, { class: "mono" }), open(n)]), { id: "accounts" })),
    section("Proof-of-Attribution attestation", attestationView(attestation)));
}
