"""The RPC's description: the OpenAPI document served at /openapi.json, and the table of
/query/<kind> endpoints (each kind's one parameter) that the app routes by."""
from __future__ import annotations

from typing import Any

# kind -> (its one parameter, what it answers)
QUERY_KINDS = {
    "account": ("address", "an account: balance, nonce, stake"),
    "asset": ("id", "an asset (datanet, contribution, model, agent), its largest holders and vault"),
    "upstream": ("id", "the attribution graph above an asset (its sources, recursively)"),
    "downstream": ("id", "the assets built on an asset, recursively"),
    "earnings": ("address", "what an account earned, by asset"),
    "holdings": ("address", "an account's revenue rights across assets: shares, locked, earned, accrued"),
    "orders": ("address", "an account's open orders"),
    "order": ("id", "one order by id (open or closed)"),
    "book": ("id", "the order book of an asset: price levels a side, best first, and the last price"),
    "fills": ("id", "the recent fills and last price of an asset"),
    "attestation": ("hash", "a use's Proof-of-Attribution escrows, one per datanet, each with its attestation "
                            "(scores, output hash, algorithm, status) and static weights beside the scores"),
    "attributor": ("id", "a model's Proof-of-Attribution attributor (operator, bond), or null"),
    "challenge": ("id", "an attestation's escrow (by attestation id), its challenge and the curators who decide"),
    "key": ("key", "a raw state key (hex) with its Merkle proof"),
}


def build_openapi() -> dict:
    def op(summary: str, params: list[tuple[str, str, bool]], method: str = "get") -> dict:
        return {method: {
            "summary": summary,
            "parameters": [{"name": n, "in": "query", "required": req, "description": d,
                            "schema": {"type": "string"}} for n, d, req in params],
            "responses": {"200": {"description": "JSON result"},
                          "400": {"description": "malformed request: {error: {code, reason}}"},
                          "403": {"description": "broadcast_*: Origin/Host not allowed (forbidden_origin)"},
                          "404": {"description": "not found"},
                          "408": {"description": "body not received in time (body_timeout)"},
                          "410": {"description": "height pruned by this node (pruned)"},
                          "413": {"description": "body_too_large, too_many_txs"},
                          "500": {"description": "internal error (details only in the node's log)"},
                          "503": {"description": "broadcast_tx_commit: too_many_waiters"}},
        }}
    tx_param = [("tx", "signed tx bytes, hex (GET) or JSON body {\"tx\": hex} (POST)", True)]
    paths: dict[str, Any] = {
        "/status": op("node identity, latest block, sync and consensus state", []),
        "/broadcast_tx_sync": {**op("admit a tx to the mempool; returns the admission result", tx_param),
                               **op("same, JSON body", [], "post")},
        "/broadcast_tx_commit": {**op("admit a tx and wait until it is committed (or timeout_ms)",
                                      tx_param + [("timeout_ms", "how long to wait", False)]),
                                 **op("same, JSON body", [], "post")},
        "/broadcast_txs_sync": op("admit many txs, JSON body {\"txs\": [hex, ...]}; one broadcast_tx_sync result each",
                                  [], "post"),
        "/tx": op("a committed tx by hash, with its result and inclusion proof against the block's data_hash",
                  [("hash", "tx id, hex", True)]),
        "/block": op("a block by height (default: latest)", [("height", "block height", False)]),
        "/commit": op("the commit (precommit signatures) for a height", [("height", "block height", False)]),
        "/validators": op("the validator set at a height", [("height", "block height", False)]),
        "/blockchain": op("metas of the latest blocks (height, id, time, tx count, proposer), newest first",
                          [("max_height", "last block (default: latest)", False),
                           ("limit", "how many blocks, 1..100 (default 20)", False)]),
        "/block_results": op("a block's txs decoded, each with its result", [("height", "block height", False)]),
        "/consensus_state": op("the height/round being decided and each validator's prevote and precommit", []),
        "/net_info": op("connected peers and the height each last announced", []),
        "/use_flows": op("where a committed use tx's payment went: each amount, recipient and path",
                         [("hash", "tx id of a use, hex", True)]),
        "/explorer/": op("the block explorer (HTML)", []),
        "/metrics": op("Prometheus metrics (text)", []),
        "/openapi.json": op("this document", []),
    }
    for kind, (param, desc) in QUERY_KINDS.items():
        paths[f"/query/{kind}"] = op(desc + "; with Merkle proof against the app hash",
                                     [(param, param, True), ("height", "state after this height", False)])
    return {"openapi": "3.0.3",
            "info": {"title": "attrchain node RPC", "version": "1"},
            "paths": paths}


OPENAPI = build_openapi()
