// Accounts: balance, earnings per asset, holdings and open orders.
import { chainIndex } from "./chainindex.js";
import { figures, h, link, open, pct, section, short, table } from "./dom.js";
import { rpc } from "./rpc.js";

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

const assetLink = (id, name) => link(`#/asset/${id}`, name || short(id, 16));

function holdingsTable(rows) {
  if (!rows.length) return h("p", {}, "No revenue rights held.");
  return table("Revenue rights: shares (of 1,000,000), locked in sell orders, earned (paid out), accrued (a claim pays it now)",
    ["asset", "kind", "shares", "locked", "earned (OPEN)", "accrued (OPEN)"],
    rows.map((r) => [assetLink(r.asset, r.name), r.kind, pct(r.shares), pct(r.locked), open(r.earned), open(r.accrued)]),
    { id: "holdings" });
}

// orders as /query/orders answers them (prices in uopen per share)
function ordersTable(rows, caption = "Open orders") {
  if (!rows.length) return h("p", {}, `${caption}: none.`);
  return table(caption, ["order", "asset", "side", "price (uopen/share)", "shares", "remaining", "expires at", "status"],
    rows.map((o) => [h("span", { class: "mono" }, short(String(o.id), 12)), assetLink(o.asset), o.side, String(o.price),
      String(o.shares), String(o.remaining), String(o.expires_at), o.status]), { id: "orders" });
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
    rpc("/query/holdings", { address }), rpc("/query/orders", { address })]);
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
    section("Holdings", holdingsTable(holdings.holdings)),
    section("Open orders", ordersTable(orders.orders)));
}
