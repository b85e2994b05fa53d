// Blocks and txs: the latest blocks, a block with its decoded txs, a tx with its result
// and its inclusion proof checked here against the block header's data_hash.
import { figures, h, link, open, section, short, table, time } from "./dom.js";
import { verifyMerkleProof } from "./merkle.js";
import { rpc } from "./rpc.js";

export const result = (r) =>
  r.code === 0 ? h("span", { class: "ok" }, "ok") : h("span", { class: "fail" }, `failed: ${r.code ?? "?"} ${r.log}`);

function argValue(k, v) {
  if (typeof v === "string" && v.startsWith("open1")) return link(`#/account/${v}`, v, { class: "mono" });
  if (typeof v === "string" && /^[0-9a-f]{64}$/.test(v) && ["asset", "datanet", "contribution", "id"].includes(k))
    return link(`#/asset/${v}`, short(v, 16), { class: "mono" });
  if (typeof v === "number" && /price|amount|bond/.test(k)) return `${open(v)} OPEN`;
  return typeof v === "string" ? v : JSON.stringify(v);
}

const argSummary = (t) => (t.args ? Object.entries(t.args).map(([k, v]) => h("span", { class: "arg" }, `${k}=`, argValue(k, v))) : t.error);

export async function blocksPage() {
  const chain = await rpc("/blockchain", { limit: 20 });
  return h("div", {},
    h("h1", { tabindex: -1 }, "Latest blocks"),
    table(`The ${chain.blocks.length} latest blocks (of ${chain.last_height})`,
      ["height", "time", "txs", "proposer", "block id"],
      chain.blocks.map((b) => [link(`#/block/${b.height}`, String(b.height)), time(b.time_ms), String(b.num_txs),
        h("span", { class: "mono" }, short(b.proposer, 12)), h("span", { class: "mono" }, short(b.block_id, 16))]),
      { id: "blocks" }));
}

export async function blockPage(height) {
  const [b, res] = await Promise.all([rpc("/block", { height }), rpc("/block_results", { height })]);
  const hd = b.header;
  return h("div", {},
    h("h1", { tabindex: -1 }, `Block ${b.height}`),
    h("nav", { class: "pager", "aria-label": "neighbouring blocks" },
      b.height > 1 ? link(`#/block/${b.height - 1}`, "← previous") : null, " ", link(`#/block/${b.height + 1}`, "next →")),
    figures([
      ["time", time(hd.time_ms)], ["txs", String(b.txs.length), "num-txs"], ["block id", h("span", { class: "mono" }, b.block_id)],
      ["data hash (tx root)", h("span", { class: "mono" }, hd.data_hash)], ["app hash (before)", h("span", { class: "mono" }, hd.app_hash)],
      ["proposer", h("span", { class: "mono" }, hd.proposer)],
      ["signatures in last commit", b.last_commit ? String(b.last_commit.signatures.length) : "—"],
    ]),
    section("Transactions",
      res.txs.length
        ? table(`${res.txs.length} txs of block ${b.height}, decoded`, ["#", "tx", "kind", "sender", "fields", "result"],
            res.txs.map((t) => [String(t.index), link(`#/tx/${t.hash}`, short(t.hash, 12), { class: "mono" }), t.kind ?? "undecodable",
              t.sender ? link(`#/account/${t.sender}`, short(t.sender, 14), { class: "mono" }) : "—",
              h("span", { class: "args" }, argSummary(t)), result(t.result)]), { id: "block-txs" })
        : h("p", {}, "No transactions in this block.")));
}

export async function txPage(hash) {
  const tx = await rpc("/tx", { hash });
  const [b, res] = await Promise.all([rpc("/block", { height: tx.height }), rpc("/block_results", { height: tx.height })]);
  const d = res.txs[tx.index];
  const p = tx.proof;
  // the root comes from the header, not from the proof the node sent with the tx
  const verified = p.leaf === tx.hash && p.index === tx.index
    && await verifyMerkleProof(b.header.data_hash, p.leaf, p.index, p.total, p.aunts);
  return h("div", {},
    h("h1", { tabindex: -1 }, `Transaction ${short(tx.hash, 16)}`),
    figures([
      ["hash", h("span", { class: "mono" }, tx.hash)], ["block", link(`#/block/${tx.height}`, String(tx.height)), "tx-height"],
      ["index", `${tx.index} of ${p.total}`], ["kind", d.kind ?? "undecodable", "tx-kind"],
      ["sender", d.sender ? link(`#/account/${d.sender}`, d.sender) : "—"],
      ["fee", d.fee !== undefined ? `${open(d.fee)} OPEN` : "—"], ["nonce", d.nonce !== undefined ? String(d.nonce) : "—"],
      ["result", result(tx.tx_result), "tx-result"],
    ]),
    d.args ? section("Fields", table("The tx's fields", ["field", "value"], Object.entries(d.args).map(([k, v]) => [k, argValue(k, v)]))) : null,
    section("Inclusion proof",
      h("p", { class: verified ? "ok proof" : "fail proof", "data-proof": verified ? "verified" : "failed", role: "status" },
        verified ? `Verified in this browser: this tx is item ${p.index} of ${p.total} under block ${tx.height}'s data hash.`
                 : "The proof does NOT match block " + tx.height + "'s data hash."),
      h("p", { class: "small" }, `Checked with WebCrypto SHA-256 over ${p.aunts.length} aunt hash(es) (RFC 6962), against `,
        h("span", { class: "mono" }, short(b.header.data_hash, 16)), " read from the block header.")),
    d.kind === "use" && tx.tx_result.code === 0
      ? section("Payment", h("p", {}, link(`#/payment/${tx.hash}`, "Follow this payment along the attribution graph"))) : null);
}
