"""The coordinator's side of the genesis ceremony (node/cli/gentx.py tells the whole of
it): the draft genesis -- chain id, time, params and funded accounts, no validators --
that operators make their gentxs against, and the hash everyone compares at the end."""
from __future__ import annotations

import hashlib
import json

from node.keys import decode_address, encode_address
from p2p.ids import check_chain_id
from state.params import Params
from state.tx import MAX_AMOUNT


class GenesisError(ValueError):
    """A draft, gentx or genesis is malformed or inconsistent (the message says where)."""


def draft_genesis(chain_id: str, genesis_time_ms: int, params: dict | None = None) -> dict:
    """A genesis without validators: what `genesis init` writes and gentxs are made against."""
    try:
        check_chain_id(chain_id)
        p = Params.from_json(params or {})
    except (TypeError, ValueError) as e:
        raise GenesisError(str(e)) from None
    return {"chain_id": chain_id, "genesis_time_ms": genesis_time_ms, "balances": [],
            "validators": [], "params": p.to_json()}


def draft_field(draft: dict, name: str):
    try:
        return draft[name]
    except (KeyError, TypeError):
        raise GenesisError(f"the genesis has no {name}") from None


def draft_balances(draft: dict) -> dict[bytes, int]:
    if not isinstance(draft, dict):
        raise GenesisError("a genesis is a JSON object")
    if draft.get("validators"):
        raise GenesisError("this genesis already has validators (gentxs were collected)")
    try:
        return {decode_address(b["address"]): b["amount"] for b in draft.get("balances", [])}
    except (KeyError, TypeError, ValueError) as e:
        raise GenesisError(f"draft genesis balances: {e}") from None


def with_balances(draft: dict, balances: dict[bytes, int]) -> dict:
    doc = dict(draft)
    doc["balances"] = [{"address": encode_address(a), "amount": n} for a, n in sorted(balances.items())]
    return doc


def add_account(draft: dict, address: bytes, amount: int) -> dict:
    """The draft with one more funded account (balances kept sorted by address)."""
    balances = draft_balances(draft)
    if address in balances:
        raise GenesisError(f"{encode_address(address)} already has a genesis balance")
    if type(amount) is not int or not 0 < amount <= MAX_AMOUNT:
        raise GenesisError(f"amount must be 1..{MAX_AMOUNT}")
    if sum(balances.values()) + amount > MAX_AMOUNT:
        raise GenesisError("genesis supply would exceed 2**63-1")
    balances[address] = amount
    return with_balances(draft, balances)


def genesis_hash(doc: dict) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces): the same for the same content,
    however the file was formatted."""
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
