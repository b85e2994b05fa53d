// Accounts: balance, earnings per asset, and (where the node has them) holdings and open orders.
import { chainIndex } from "./chainindex.js";
import { figures, h, link, notAvailable, open, section, short, table } from "./dom.js";
import { optional, rpc } from "./rpc.js";

export function searchForm(label, placeholder, route) {
  const input = h("input", { id: "q-" + route, name: "q", placeholder, autocomplete: "off", spellcheck: "false", required: true });
  const form = h("form", { class: "search", role: "search" },
    h("label", { for: input.id }, label), input, h("button", { type: "submit" }, "Show"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = `#/${route}/${input.value.trim()}`;
  });
  return form;
}

// An optional endpoint's answer as a table of its first list of records (its shape is
// the other branch's; show every field rather than guess at names).
export function records(caption, answer) {
  const list = Object.values(answer).find(Array.isArray) ?? [];
  if (!list.length) return h("p", {}, `${caption}: none.`);
  const cols = Object.keys(list[0]);
  const cell = (v) => (typeof v === "number" ? String(v) : typeof v === "string" ? v : JSON.stringify(v));
  return table(caption, cols, list.map((r) => cols.map((c) => cell(r[c]))));
}

export async function accountsPage() {
  const idx = await chainIndex();
  return h("div", {},
    h("h1", { tabindex: -1 }, "Accounts"),
    searchForm("Account address", "open1…", "account"),
    section("Seen in the recent blocks",
      h("ul", { class: "plain" }, idx.accounts.map((a) => h("li", {}, link(`#/account/${a}`, a, { class: "mono" }))))));
}

export async function accountPage(address) {
  const [acct, earn, holdings, orders] = await Promise.all([
    rpc("/query/account", { address }), rpc("/query/earnings", { address }),
    optional("holdings", address), optional("orders", address)]);
  return h("div", {},
    h("h1", { tabindex: -1 }, "Account"),
    h("p", { class: "mono break" }, acct.address),
    figures([
      ["balance", `${open(acct.balance)} OPEN`, "balance"], ["nonce", String(acct.nonce), "nonce"],
      ["earned, all assets", `${open(earn.total)} OPEN`, "earned"], ["at height", String(acct.height)],
    ]),
    section("Earnings per asset",
      earn.earnings.length
        ? table("What this account earned, by asset", ["asset", "name", "earned (OPEN)"],
            earn.earnings.map((e) => [link(`#/asset/${e.asset}`, short(e.asset, 16), { class: "mono" }), e.name, open(e.amount)]),
            { id: "earnings" })
        : h("p", {}, "Nothing earned yet.")),
    section("Holdings", holdings ? records("Revenue rights held", holdings) : notAvailable("Holdings")),
    section("Open orders", orders ? records("Open orders", orders) : notAvailable("Open orders")));
}
