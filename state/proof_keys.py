"""The state keys that proven queries name: a Merkle proof is about a key, so the RPC's
answers (which attach a proof of every key they rest on), the light client's providers
and the Proof-of-Attribution reads (node/poa/, each read proven against a verified
header) say which key they ask to be proven. This module is the one place outside a
table's own module where those keys are built; node/ imports it (`from state import
proof_keys`) and never a key layout. Decode what a key holds with its table's type:
`AssetRecord`, `Pool`, `Escrow`, `Attributor`.
"""
from __future__ import annotations

from state.asset_index import PAGE_SIZE, length_key, page_key
from state.asset_records import MEMBERS, asset_key, earnings_key, pool_key
from state.keys import account_key
from state.poa_records import attributor_key, escrow_key, use_escrows_key


def account(address: bytes) -> bytes:
    """An account: [balance, nonce] (`/query/account`, the light client's `account`)."""
    return account_key(address)


def asset(asset_id: bytes) -> bytes:
    """An asset's record (`/query/asset`, the graph queries, the PoA answers)."""
    return asset_key(asset_id)


def earnings(account_address: bytes, asset_id: bytes) -> bytes:
    """What an account was paid from an asset, cumulative (`/query/earnings`)."""
    return earnings_key(account_address, asset_id)


def pool(datanet: bytes) -> bytes:
    """A datanet's contributor pool (the PoA escrow answers weigh by it)."""
    return pool_key(datanet)


def escrow(attestation_id: bytes) -> bytes:
    """An attribution escrow with its attestation and challenge (`/query/challenge`)."""
    return escrow_key(attestation_id)


def use_escrows(use: bytes) -> bytes:
    """The attestation ids of the escrows a use tx opened (`/query/attestation`, `poa verify`)."""
    return use_escrows_key(use)


def attributor(model: bytes) -> bytes:
    """A model's attributor (`/query/attributor`)."""
    return attributor_key(model)


def datanet_members(datanet: bytes) -> bytes:
    """How many contributions were submitted to a datanet (its member list's length)."""
    return length_key(MEMBERS, datanet)


def datanet_member_pages(datanet: bytes, count: int) -> list[bytes]:
    """The keys of the pages that hold a member list of `count` contribution ids, in order."""
    return [page_key(MEMBERS, datanet, page) for page in range(-(-count // PAGE_SIZE))]
