// Proof of Attribution on the payment and asset pages: a use's escrows with their
// attestations (/query/attestation), a model's attributor (/query/attributor).
import { figures, h, link, open, pct, short, table } from "./dom.js";

const acct = (a) => (a ? link(`#/account/${a}`, short(a, 16), { class: "mono" }) : "—");

// What the escrow's status means for who gets paid (docs/poa.md, "Settling").
const MEANING = {
  pending: (e) => `awaiting the attributor's measurement until height ${e.attest_by}; static weights pay if none comes`,
  attested: (e) => `measured; the measurement pays at the end of block ${e.challenge_by} unless a challenge is upheld`,
  challenged: (e) => `challenged; the datanet's curators decide by height ${e.challenge_by}`,
  challenge_rejected: (e) => `challenge rejected; the measurement pays at the end of block ${e.challenge_by}`,
  paid: () => "the measurement was paid",
  fallback: () => "never attested: static weights were paid",
  upheld: () => "challenge upheld: the attributor was slashed and static weights were paid",
};

function escrowView(e) {
  const rows = e.scores.map((s) => [h("span", {}, link(`#/asset/${s.contribution}`, `contribution ${short(s.contribution, 10)}`),
    s.uri ? h("span", { class: "small" }, ` ${s.uri}`) : null),
    pct(s.score_ppm), pct(s.weight), open(s.static), open(s.measured)]);
  if (e.others.weight) {
    rows.push([`other contributions of the datanet (${e.others.contributions})`, "—", pct(e.others.weight),
      open(e.others.static), open(e.others.measured)]);
  }
  const c = e.challenge;
  return h("div", { class: "escrow", "data-attestation": e.attestation },
    h("h3", {}, "Escrow at ", link(`#/asset/${e.datanet}`, e.datanet_name || short(e.datanet, 16)),
      ", below ", link(`#/asset/${e.model}`, e.model_name || short(e.model, 16))),
    figures([
      ["escrowed (the datanet pool's part)", `${open(e.amount)} OPEN`, "escrow-amount"],
      ["status", e.status, "escrow-status"],
      ["attestation id", h("span", { class: "mono" }, short(e.attestation, 16))],
      ["attributor", acct(e.operator)], ["algorithm", e.algorithm ?? "—"],
      ["output hash", e.output_hash ? h("span", { class: "mono" }, short(e.output_hash, 16)) : "—"],
      ["attested at height", e.attested_at ? link(`#/block/${e.attested_at}`, String(e.attested_at)) : "—"],
    ]),
    h("p", {}, MEANING[e.status] ? MEANING[e.status](e) : e.status),
    c ? h("p", {}, "Challenged by ", acct(c.challenger), ` with a bond of ${open(c.bond)} OPEN; curators' votes: `,
      `${c.upheld_votes.length} upheld, ${c.rejected_votes.length} rejected.`) : null,
    rows.length
      ? table("Scores per contribution, and the escrow split by static weights beside the split by the measurement " +
          "(the scored part to each contribution, the rest by weights; before the pool's rounding)",
          ["contribution", "score", "weight", "static weights (OPEN)", "measured (OPEN)"], rows, { class: "scores" })
      : null);
}

export function attestationView(answer) {
  if (!answer.escrows.length) {
    return h("p", { "data-attestations": "0" }, "No escrow: this use's payment reached no datanet below a model " +
      "with an attributor, so every pool part went by static weights.");
  }
  return h("div", { "data-attestations": String(answer.escrows.length) },
    answer.escrows.map(escrowView),
    answer.truncated ? h("p", { class: "small" }, "Truncated: the node lists a bounded number of escrows.") : null);
}

export function attributorView(answer) {
  const a = answer.attributor;
  if (!a) return h("p", { "data-attributor": "none" }, "No attributor: the uses of this model pay its datanets by static weights.");
  return h("div", { "data-attributor": a.operator },
    figures([["operator", acct(a.operator), "attributor"], ["bond", `${open(a.bond)} OPEN`, "attributor-bond"],
      ["bond paid by", acct(a.payer)]]),
    h("p", {}, "Its attestations measure which contributions each answer quoted; they pay the pool part of each use."));
}
