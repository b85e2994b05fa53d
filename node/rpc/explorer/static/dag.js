// A small layered DAG drawing (Sugiyama-style, enough for <= 1,024 nodes): longest-path
// layering from the roots, then a few barycentre sweeps to order each layer, drawn as SVG.
import { h } from "./dom.js";

const W = 176, H = 48, GAP_X = 28, GAP_Y = 84;

export function layout(nodes, edges) {
  const ids = nodes.map((n) => n.id);
  const parents = new Map(ids.map((id) => [id, []]));
  const children = new Map(ids.map((id) => [id, []]));
  for (const e of edges) { children.get(e.from).push(e.to); parents.get(e.to).push(e.from); }
  // longest-path layering in topological order (Kahn); a node left over (a cycle, which
  // the ledger forbids) goes below everything rather than looping
  const indeg = new Map(ids.map((id) => [id, parents.get(id).length]));
  const layer = new Map();
  const queue = ids.filter((id) => indeg.get(id) === 0);
  queue.forEach((id) => layer.set(id, 0));
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    for (const c of children.get(id)) {
      layer.set(c, Math.max(layer.get(c) ?? 0, layer.get(id) + 1));
      indeg.set(c, indeg.get(c) - 1);
      if (indeg.get(c) === 0) queue.push(c);
    }
  }
  const depth = Math.max(0, ...layer.values());
  for (const id of ids) if (!layer.has(id)) layer.set(id, depth + 1);
  const layers = [];
  for (const id of ids) (layers[layer.get(id)] ??= []).push(id);
  for (let i = 0; i < layers.length; i++) layers[i] ??= [];
  // barycentre ordering: sweep down (by parents' positions) then up (by children's)
  const pos = new Map();
  const index = () => layers.forEach((l) => l.forEach((id, i) => pos.set(id, i)));
  index();
  const bary = (id, nbrs) => {
    const ps = nbrs.get(id).map((x) => pos.get(x));
    return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : pos.get(id);
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    for (let i = 1; i < layers.length; i++) {
      layers[i].sort((a, b) => bary(a, parents) - bary(b, parents));
      index();
    }
    for (let i = layers.length - 2; i >= 0; i--) {
      layers[i].sort((a, b) => bary(a, children) - bary(b, children));
      index();
    }
  }
  const widest = Math.max(1, ...layers.map((l) => l.length));
  const width = widest * (W + GAP_X) + GAP_X;
  const xy = new Map();
  layers.forEach((l, li) => {
    const offset = (width - l.length * (W + GAP_X) + GAP_X) / 2;
    l.forEach((id, i) => xy.set(id, { x: offset + i * (W + GAP_X), y: GAP_X + li * (H + GAP_Y) }));
  });
  return { xy, width, height: layers.length * (H + GAP_Y) - GAP_Y + 2 * GAP_X };
}

const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + "…" : s);

// nodes: [{id, label, sub, href}], edges: [{from, to, label}]; `title` names the picture.
export function drawDag(nodes, edges, title) {
  const { xy, width, height } = layout(nodes, edges);
  const titleId = "t" + Math.random().toString(36).slice(2);
  const svg = h("svg:svg", {
    viewBox: `0 0 ${width} ${height}`, width, role: "group", "aria-labelledby": titleId, class: "dag",
  }, h("svg:title", { id: titleId }, title),
  h("svg:defs", {}, h("svg:marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, h("svg:path", { d: "M 0 0 L 10 5 L 0 10 z" }))));
  for (const e of edges) {
    const a = xy.get(e.from), b = xy.get(e.to);
    const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
    const my = (y1 + y2) / 2;
    svg.append(h("svg:g", { class: "edge", "data-from": e.from, "data-to": e.to },
      h("svg:path", { d: `M ${x1} ${y1} C ${x1} ${my}, ${x2} ${my}, ${x2} ${y2}`, "marker-end": "url(#arrow)" }),
      h("svg:text", { x: (x1 + x2) / 2, y: my, "text-anchor": "middle", class: "edge-label" }, e.label)));
  }
  for (const n of nodes) {
    const { x, y } = xy.get(n.id);
    const box = [
      h("svg:title", {}, `${n.label} (${n.sub})`),
      h("svg:rect", { x, y, width: W, height: H, rx: 6 }),
      h("svg:text", { x: x + W / 2, y: y + 20, "text-anchor": "middle", class: "node-label" }, clip(n.label, 24)),
      h("svg:text", { x: x + W / 2, y: y + 38, "text-anchor": "middle", class: "node-sub" }, clip(n.sub, 28)),
    ];
    svg.append(n.href
      ? h("svg:a", { href: n.href, class: `node ${n.cls || ""}`, "data-id": n.id }, box)
      : h("svg:g", { class: `node ${n.cls || ""}`, "data-id": n.id }, box));
  }
  return h("div", { class: "scroll dag-wrap" }, svg);
}
