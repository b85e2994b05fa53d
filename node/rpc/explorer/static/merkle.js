// The tx root check of state/simple_merkle.py (RFC 6962, CometBFT's simple merkle tree),
// done in the browser with WebCrypto, so the page need not trust the node's word.
//   leaf = sha256(0x00 || item), inner = sha256(0x01 || left || right),
//   split at the largest power of two < n; a proof is the aunts, bottom-up.

export function hexToBytes(hex) {
  if (typeof hex !== "string" || hex.length % 2 || /[^0-9a-f]/i.test(hex)) throw new Error("not hex");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(...parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const buf = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { buf.set(p, at); at += p.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
}

export const leafHash = (item) => sha256(Uint8Array.of(0), item);
export const innerHash = (left, right) => sha256(Uint8Array.of(1), left, right);

function splitPoint(n) {  // largest power of two strictly below n (n >= 2)
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

async function rootFromAunts(index, total, leaf, aunts) {
  if (total === 1) return aunts.length === 0 ? leaf : null;
  if (aunts.length === 0) return null;
  const k = splitPoint(total);
  const last = aunts[aunts.length - 1];
  const rest = aunts.slice(0, -1);
  if (index < k) {
    const left = await rootFromAunts(index, k, leaf, rest);
    return left && innerHash(left, last);
  }
  const right = await rootFromAunts(index - k, total - k, leaf, rest);
  return right && innerHash(last, right);
}

// True iff `leafHex` is item `index` of a `total`-item list whose root is `rootHex`.
// Never throws: malformed arguments verify as false.
export async function verifyMerkleProof(rootHex, leafHex, index, total, auntsHex) {
  try {
    if (!Number.isInteger(index) || !Number.isInteger(total) || index < 0 || index >= total) return false;
    if (!Array.isArray(auntsHex) || auntsHex.length > 64) return false;
    const aunts = auntsHex.map(hexToBytes);
    if (aunts.some((a) => a.length !== 32)) return false;
    const root = await rootFromAunts(index, total, await leafHash(hexToBytes(leafHex)), aunts);
    return root !== null && bytesToHex(root) === rootHex.toLowerCase();
  } catch (e) {
    return false;
  }
}

// The root of a list (for tests: compared with state/simple_merkle.merkle_root).
export async function merkleRoot(itemsHex) {
  if (itemsHex.length === 0) return bytesToHex(await sha256());
  const hashes = await Promise.all(itemsHex.map((x) => leafHash(hexToBytes(x))));
  const root = async (hs) => {
    if (hs.length === 1) return hs[0];
    const k = splitPoint(hs.length);
    return innerHash(await root(hs.slice(0, k)), await root(hs.slice(k)));
  };
  return bytesToHex(await root(hashes));
}
