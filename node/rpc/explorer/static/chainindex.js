// What the explorer knows about without an indexer: the txs of the recent blocks (the last
// 100), decoded by the node's /block_results. Blocks never change once committed, so each
// height is fetched once per page load.
import { pooled, rpc } from "./rpc.js";

const results = new Map();   // height -> /block_results

export async function recentTxs(limit = 100) {
  const chain = await rpc("/blockchain", { limit });
  const heights = chain.blocks.filter((b) => b.num_txs > 0).map((b) => b.height);
  await pooled(heights.filter((x) => !results.has(x)), 6, async (height) => {
    results.set(height, await rpc("/block_results", { height }));
  });
  return heights.sort((a, b) => a - b).flatMap((height) => results.get(height).txs.map((t) => ({ ...t, height })));
}

// {assets: [{id, kind, name, creator, height}], uses: [{hash, asset, payer, height, ok}], accounts: Set}
export async function chainIndex() {
  const txs = await recentTxs();
  const assets = [], uses = [], accounts = new Set();
  const names = new Map();
  for (const t of txs) {
    if (!t.kind) continue;
    accounts.add(t.sender);
    if (t.creates && t.result.code === 0) {
      const name = t.kind === "contribute" ? `contribution to ${names.get(t.args.datanet) ?? "a datanet"}` : t.args.name;
      names.set(t.creates, name);
      assets.push({ id: t.creates, kind: t.kind.replace(/^(create_|register_)/, "").replace("contribute", "contribution"),
                    name, creator: t.sender, height: t.height });
    }
    if (t.kind === "use") uses.push({ hash: t.hash, asset: t.args.asset, payer: t.sender, height: t.height, ok: t.result.code === 0 });
    if (t.args && typeof t.args.to === "string") accounts.add(t.args.to);
  }
  return { assets, uses, accounts: [...accounts].sort(), names };
}
