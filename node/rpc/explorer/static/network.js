// Network: height, block interval, tx/s, validators with an uptime grid of the last 100
// blocks (from each commit's signatures), the live consensus round, peers.
import { figures, h, section, short, table, time } from "./dom.js";
import { pooled, rpc } from "./rpc.js";

const signers = new Map();   // height -> Set of validator addresses that signed its commit

async function commitSigners(heights, latest) {
  // the newest commits may still gain late precommits: fetch those again each time
  const want = heights.filter((x) => !signers.has(x) || x >= latest - 1);
  await pooled(want, 8, async (height) => {
    const c = await rpc("/commit", { height });
    signers.set(height, new Set(c.commit.signatures.map((s) => s.validator)));
  });
}

function chainFigures(blocks) {
  if (blocks.length < 2) return { interval: "—", tps: "—" };
  const span = blocks[0].time_ms - blocks[blocks.length - 1].time_ms;
  const txs = blocks.slice(0, -1).reduce((n, b) => n + b.num_txs, 0);
  return {
    interval: (span / (blocks.length - 1) / 1000).toFixed(2) + " s",
    tps: span > 0 ? (txs / (span / 1000)).toFixed(2) : "—",
  };
}

const vote = (v) => (v === null ? "—" : v === "nil" ? "nil" : short(v, 8));
const voteLabel = (v) => (v === null ? "not seen" : v === "nil" ? "nil" : "for block " + v.slice(0, 8));
// short on screen, spelled out for screen readers
const voteCell = (v) => h("span", { class: "vote" }, h("span", { "aria-hidden": "true" }, vote(v)), h("span", { class: "sr" }, voteLabel(v)));

function uptimeGrid(validators, heights) {
  const rows = validators.map((v) => {
    const cells = heights.map((x) => {
      const ok = signers.get(x)?.has(v.address);
      return h("span", { class: ok ? "up" : "down", title: `height ${x}: ${ok ? "signed" : "missed"}` });
    });
    const n = heights.filter((x) => signers.get(x)?.has(v.address)).length;
    return h("div", { class: "uptime-row", "data-validator": v.address },
      h("span", { class: "mono" }, short(v.address, 12)),
      h("span", { class: "grid", role: "img", "aria-label": `signed ${n} of the last ${heights.length} blocks` }, cells),
      h("span", { "data-signed": n }, `${n}/${heights.length}`));
  });
  return h("div", { class: "uptime" }, rows);
}

export async function networkPage() {
  const [status, chain, vals, cs, net] = await Promise.all([
    rpc("/status"), rpc("/blockchain", { limit: 100 }), rpc("/validators"), rpc("/consensus_state"), rpc("/net_info")]);
  const blocks = chain.blocks;
  const heights = blocks.map((b) => b.height).reverse();
  await commitSigners(heights, chain.last_height);
  const f = chainFigures(blocks);
  const me = status.validator_address;
  return h("div", {},
    h("h1", { tabindex: -1 }, `Network ${status.chain_id}`),
    figures([
      ["height", String(status.height), "height"],
      ["latest block", status.height ? time(status.latest_block_time_ms) : "—"],
      [`block interval (last ${blocks.length})`, f.interval, "interval"],
      [`tx/s (last ${blocks.length} blocks)`, f.tps, "tps"],
      ["validators", String(vals.validators.length), "validators"],
      ["peers", String(status.peers), "peers"],
      ["mempool", `${status.mempool_size} txs`],
      ["this node", `${status.moniker} ${status.catching_up ? "(catching up)" : ""}`],
    ]),
    section("Validators",
      table(`Validators of height ${vals.height} (total power ${vals.total_power})`,
        ["address", "voting power", "share", "signed (last " + heights.length + ")"],
        vals.validators.map((v) => [
          h("span", { class: "mono" }, short(v.address, 16), v.address === me ? " (this node)" : ""),
          String(v.voting_power),
          (100 * v.voting_power / vals.total_power).toFixed(1) + " %",
          String(heights.filter((x) => signers.get(x)?.has(v.address)).length),
        ]), { id: "validators" }),
      h("h3", {}, `Uptime: the last ${heights.length} blocks, oldest first`),
      h("p", { class: "legend" }, h("span", { class: "up" }), " signed the commit  ", h("span", { class: "down" }), " missed"),
      uptimeGrid(vals.validators, heights)),
    section("Consensus",
      figures([
        ["height", String(cs.height), "cs-height"], ["round", String(cs.round), "cs-round"],
        ["step", cs.step, "cs-step"], ["proposer", short(cs.proposer, 12)],
        ["prevotes", `${cs.prevote_power} / ${cs.total_power} power`, "prevote-power"],
        ["precommits", `${cs.precommit_power} / ${cs.total_power} power`, "precommit-power"],
        ["round age", `${cs.round_age_s} s`],
      ]),
      table(`Votes of height ${cs.height}, round ${cs.round}, as this node has seen them`,
        ["validator", "power", "prevote", "precommit"],
        cs.validators.map((v) => [
          h("span", { class: "mono" }, short(v.address, 16), v.address === cs.proposer ? " (proposer)" : ""),
          String(v.voting_power),
          voteCell(v.prevote), voteCell(v.precommit),
        ]), { id: "consensus" })),
    section("Peers",
      net.peers.length
        ? table(`${net.n_peers} connected peers`, ["peer id", "announced height"],
            net.peers.map((p) => [h("span", { class: "mono" }, p.node_id), p.height === null ? "—" : String(p.height)]),
            { id: "peers" })
        : h("p", {}, "No peer connected.")));
}
