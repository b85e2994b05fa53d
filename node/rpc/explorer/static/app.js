// The explorer's shell: hash routes, one render per route change, and a poll that
// refreshes the live pages (network, blocks, an account) every POLL_MS.
import { accountPage, accountsPage } from "./accounts.js";
import { assetPage, assetsPage } from "./assets.js";
import { blockPage, blocksPage, txPage } from "./chain.js";
import { h } from "./dom.js";
import { networkPage } from "./network.js";
import { paymentPage } from "./payment.js";
import { RpcError } from "./rpc.js";

const POLL_MS = 2000;

// [pattern, page, live, nav section]
const ROUTES = [
  [/^#?\/?(network)?$/, networkPage, true, "network"],
  [/^#\/blocks$/, blocksPage, true, "blocks"],
  [/^#\/block\/(\d{1,18})$/, (x) => blockPage(Number(x)), false, "blocks"],
  [/^#\/tx\/([0-9a-fA-F]{64})$/, txPage, false, "blocks"],
  [/^#\/accounts$/, accountsPage, false, "accounts"],
  [/^#\/account\/([^/]{1,120})$/, (a) => accountPage(decodeURIComponent(a)), true, "accounts"],
  [/^#\/assets$/, assetsPage, false, "assets"],
  [/^#\/asset\/([^/]{1,130})$/, (x) => assetPage(decodeURIComponent(x)), false, "assets"],
  [/^#\/payment\/([0-9a-fA-F]{64})$/, paymentPage, false, "assets"],
];

const main = document.getElementById("main");
const live = document.getElementById("live");
let generation = 0;
let current = null;

function match(hash) {
  for (const [re, page, isLive, nav] of ROUTES) {
    const m = re.exec(hash);
    if (m) return { page: () => page(m[1]), live: isLive, nav };
  }
  return null;
}

function problem(e) {
  if (e instanceof RpcError && e.status >= 400 && e.status < 500) {
    return h("p", { class: "fail", role: "alert" }, `The node says: ${e.message}`);
  }
  console.error(e);
  return h("p", { class: "fail", role: "alert" }, `Could not load this page: ${e.message}`);
}

// Replace the page; keep the focus on "the same" element (same id or href) across a refresh.
function show(node, refresh) {
  const active = document.activeElement;
  const key = refresh && active && main.contains(active) ? (active.id || active.getAttribute("href")) : null;
  main.replaceChildren(node);
  if (key) {
    const again = main.querySelector(`[id="${CSS.escape(key)}"], [href="${CSS.escape(key)}"]`);
    if (again) again.focus();
  } else if (!refresh) {
    main.querySelector("h1")?.focus();
  }
}

async function render(refresh = false) {
  const gen = refresh ? generation : ++generation;
  const route = match(location.hash);
  document.querySelectorAll("header nav a").forEach((a) =>
    a.dataset.nav === route?.nav ? a.setAttribute("aria-current", "page") : a.removeAttribute("aria-current"));
  if (!route) {
    current = null;
    show(h("div", {}, h("h1", { tabindex: -1 }, "Not found"), h("p", {}, "No such page in the explorer.")), false);
    return;
  }
  current = route;
  let node;
  try {
    node = await route.page();
  } catch (e) {
    node = h("div", {}, h("h1", { tabindex: -1 }, "Problem"), problem(e));
  }
  if (gen !== generation) return;   // the user moved on while this loaded
  show(node, refresh);
  document.title = `${main.querySelector("h1")?.textContent ?? "explorer"} · attrchain explorer`;
  live.textContent = `Updated ${new Date().toLocaleTimeString()}${route.live ? ", refreshing every " + POLL_MS / 1000 + " s" : ""}`;
  document.body.dataset.ready = String(gen);   // tests wait for this
}

async function poll() {
  while (true) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    if (current?.live && !document.hidden) await render(true);
  }
}

// the skip link focuses the content without touching the hash (the hash is the route)
document.querySelector(".skip").addEventListener("click", (ev) => { ev.preventDefault(); main.focus(); });
window.addEventListener("hashchange", () => render());
render();
poll();
