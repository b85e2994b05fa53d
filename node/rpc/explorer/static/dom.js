// Building the page from RPC data: elements are made with textContent only (names and
// URIs come from users of the chain; nothing is ever parsed as HTML).

export function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") el.textContent = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export const link = (href, text, attrs = {}) => h("a", { href, ...attrs }, text);

// A table from a header row and rows of cells; `caption` doubles as its accessible name.
export function table(caption, headers, rows, attrs = {}) {
  return h("div", { class: "scroll" },
    h("table", attrs,
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) =>
        i === 0 ? h("th", { scope: "row" }, c) : h("td", {}, c)))))));
}

// Definition list of figures: [[label, value, key], ...]; `key` names it for tests.
export function figures(items) {
  return h("dl", { class: "figures" }, items.map(([label, value, key]) =>
    h("div", {}, h("dt", {}, label), h("dd", key ? { "data-figure": key } : {}, value))));
}

export function section(title, ...body) {
  const id = "s-" + title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), ...body);
}

// uopen (integers) as OPEN with six decimals, without floating point.
export function open(uopen) {
  const n = Math.abs(uopen);
  const whole = Math.floor(n / 1e6).toLocaleString("en");
  return (uopen < 0 ? "-" : "") + whole + "." + String(n % 1e6).padStart(6, "0");
}

// parts per million as a percentage: 125000 -> "12.5 %".
export function pct(ppm) {
  const whole = Math.floor(ppm / 1e4);
  const frac = String(ppm % 1e4).padStart(4, "0").replace(/0+$/, "");
  return (frac ? `${whole}.${frac}` : `${whole}`) + " %";
}

export const short = (hex, n = 10) => (hex && hex.length > n + 2 ? hex.slice(0, n) + "…" : hex);
export const time = (ms) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
