// The node's RPC, same origin (the explorer is served by the node it reads).

export class RpcError extends Error {
  constructor(status, code, reason) {
    super(`${status} ${code}: ${reason}`);
    this.status = status;
    this.code = code;
  }
}

export async function rpc(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) url.searchParams.set(k, v);
  const r = await fetch(url, { headers: { accept: "application/json" } });
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new RpcError(r.status, body?.error?.code ?? "http_error", body?.error?.reason ?? r.statusText);
  return body;
}

// Endpoints other branches add (the market's holdings/orders/book/fills, Proof of
// Attribution's attestations). A node without one answers 404; the panel then says
// "not available on this node" instead of failing.
export const OPTIONAL = {
  holdings: ["/query/holdings", "address"],
  orders: ["/query/orders", "address"],
  book: ["/query/book", "id"],
  fills: ["/query/fills", "id"],
  attestation: ["/query/attestation", "hash"],
};

export async function optional(name, value) {
  const [path, param] = OPTIONAL[name];
  try {
    return await rpc(path, { [param]: value });
  } catch (e) {
    if (e instanceof RpcError && e.status === 404 && (e.code === "unknown_query" || e.code === "http_error")) return null;
    throw e;
  }
}

// Run `fn` over `items` with at most `limit` requests in flight.
export async function pooled(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
