"""A provider over the node's HTTP RPC (docs/rpc.md), async on trio (httpx).

It parses defensively: anything that is not the documented shape is a ProviderError
("bad_response"), never an exception from deep inside. It checks nothing else -- the
client verifies every header, commit, set and proof it returns.
"""
from __future__ import annotations

from typing import Any

import httpx

from consensus.types import Commit, ValidatorSet
from node.light.errors import ProviderError
from node.light.proofs import StateProof, TxInclusionProof
from node.light.provider import AccountAnswer, SignedHeader, SubmitResult
from node.keys import encode_address
from state import proof_keys
from state.block import Block, Header
from state.codec import decode_value
from state.tx import tx_id as compute_tx_id


def _url(node: str) -> str:
    return node if node.startswith("http") else "http://" + node


def _hex(v: Any, what: str) -> bytes:
    if not isinstance(v, str):
        raise ProviderError("bad_response", f"{what} is not a hex string")
    try:
        return bytes.fromhex(v)
    except ValueError:
        raise ProviderError("bad_response", f"{what} is not hex") from None


def header_from_json(d: Any) -> Header:
    try:
        return Header.from_list([
            d["chain_id"], d["height"], d["time_ms"], _hex(d["last_block_id"], "last_block_id"),
            _hex(d["last_commit_hash"], "last_commit_hash"), _hex(d["data_hash"], "data_hash"),
            _hex(d["evidence_hash"], "evidence_hash"), _hex(d["validators_hash"], "validators_hash"),
            _hex(d["next_validators_hash"], "next_validators_hash"), _hex(d["app_hash"], "app_hash"),
            _hex(d["proposer"], "proposer")])
    except (KeyError, TypeError, ValueError) as e:
        if isinstance(e, ProviderError):
            raise
        raise ProviderError("bad_response", f"header: {e}") from None


class RpcProvider:
    def __init__(self, node: str, timeout: float = 10.0):
        self.name = _url(node)
        self.http = httpx.AsyncClient(base_url=self.name, timeout=timeout)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, *, params: dict | None = None,
                    body: dict | None = None, missing_ok: bool = False) -> Any:
        try:
            r = await self.http.request(method, path, params=params, json=body)
        except httpx.HTTPError as e:
            raise ProviderError("unreachable", f"{self.name}{path}: {type(e).__name__}: {e}") from None
        try:
            doc = r.json()
        except ValueError:
            raise ProviderError("bad_response", f"{path}: HTTP {r.status_code}, not JSON") from None
        if r.status_code == 404 and missing_ok:
            return None
        if r.status_code >= 400:
            err = doc.get("error", {}) if isinstance(doc, dict) else {}
            raise ProviderError(str(err.get("code", "http_error")),
                                f"{path}: {err.get('reason', r.status_code)}")
        if not isinstance(doc, dict):
            raise ProviderError("bad_response", f"{path}: not a JSON object")
        return doc

    async def latest_height(self) -> int:
        doc = await self._call("GET", "/status")
        h = doc.get("height")
        if type(h) is not int or h < 0:
            raise ProviderError("bad_response", "/status: height is not an integer")
        return h

    async def signed_header(self, height: int) -> SignedHeader:
        c = await self._call("GET", "/commit", params={"height": height})
        v = await self._call("GET", "/validators", params={"height": height})
        try:
            commit = Commit.decode(_hex(c["raw"], "commit"))
            validators = ValidatorSet.decode(_hex(v["raw"], "validators"))
        except (KeyError, ValueError) as e:
            if isinstance(e, ProviderError):
                raise
            raise ProviderError("bad_response", f"light block {height}: {e}") from None
        return SignedHeader(header_from_json(c.get("header")), commit, validators)

    async def blocks(self, start: int, end: int) -> list[Block]:
        out = []
        for h in range(start, end + 1):
            doc = await self._call("GET", "/block", params={"height": h})
            try:
                out.append(Block.decode(_hex(doc["raw"], "block")))
            except (KeyError, ValueError) as e:
                raise ProviderError("bad_response", f"block {h}: {e}") from None
        return out

    async def tx_proof(self, tx_id: bytes) -> TxInclusionProof | None:
        doc = await self._call("GET", "/tx", params={"hash": tx_id.hex()}, missing_ok=True)
        if doc is None:
            return None
        try:
            p = doc["proof"]
            aunts = tuple(_hex(a, "aunt") for a in p["aunts"])
            index, total, height = p["index"], p["total"], doc["height"]
            if not all(type(x) is int for x in (index, total, height)):
                raise ValueError("index, total and height must be integers")
            return TxInclusionProof(height, index, total, _hex(p["leaf"], "leaf"), aunts,
                                    _hex(doc["tx"], "tx") if doc.get("tx") is not None else None)
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, ProviderError):
                raise
            raise ProviderError("bad_response", f"/tx: {e}") from None

    def _state_proof(self, doc: dict, key: bytes, height: int) -> StateProof:
        try:
            if doc["height"] != height:
                raise ValueError(f"answered for height {doc['height']}, asked {height}")
            if _hex(doc["key"], "key") != key:
                raise ValueError("answered for another key")
            raw = doc.get("raw_value", doc.get("value"))
            value = None if raw is None else _hex(raw, "value")
            return StateProof(height, key, value, _hex(doc["proof"], "proof"),
                              _hex(doc["app_hash"], "app_hash"))
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, ProviderError):
                raise
            raise ProviderError("bad_response", f"query: {e}") from None

    async def state_proof(self, key: bytes, height: int) -> StateProof:
        doc = await self._call("GET", "/query/key", params={"key": key.hex(), "height": height})
        return self._state_proof(doc, key, height)

    async def account(self, address: bytes, height: int) -> AccountAnswer:
        doc = await self._call("GET", "/query/account",
                               params={"address": encode_address(address), "height": height})
        proof = self._state_proof(doc, proof_keys.account(address), height)
        bal, nonce = doc.get("balance"), doc.get("nonce")
        return AccountAnswer(proof, bal if type(bal) is int else None,
                             nonce if type(nonce) is int else None)

    async def submit(self, tx: bytes) -> SubmitResult:
        doc = await self._call("POST", "/broadcast_tx_sync", body={"tx": tx.hex()})
        code = doc.get("code")
        tid = compute_tx_id(tx)
        if _hex(doc.get("hash"), "hash") != tid:
            raise ProviderError("bad_response", "broadcast_tx_sync answered for another tx id")
        return SubmitResult(tid, "ok" if code == 0 else str(code), str(doc.get("log", "")))


def decode_account(value: bytes | None) -> tuple[int, int]:
    """(balance, nonce) of an account value; an absent account has (0, 0)."""
    if value is None:
        return 0, 0
    obj = decode_value(value)
    if type(obj) is not list or len(obj) != 2 or not all(type(x) is int for x in obj):
        raise ProviderError("bad_response", "account value is not [balance, nonce]")
    return obj[0], obj[1]
