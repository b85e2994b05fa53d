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
