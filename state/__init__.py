"""The ledger: transactions, blocks, their execution and the LevelDB state under a
Merkle app hash. What node/ may use of it is listed here; node/ imports it from whichever
module defines it (tests/test_layering.py checks both). state/ uses consensus/ and
nothing of node/ or p2p/."""
from state import proof_keys
from state.app import BlockResult, Ledger, process_tx
from state.asset_records import (
    AssetKind,
    AssetRecord,
    Pool,
    Status,
    compute_asset_id,
    compute_contribution_id,
    get_asset,
    get_earned,
    get_require_asset,
)
from state.attribution import compute_use_flows, get_claimable
from state.block import Block, Header, compute_data_hash
from state.codec import decode_value, encode_value
from state.context import BlockInfo, Context
from state.errors import BlockError, TxError
from state.genesis import Genesis, GenesisValidator
from state.graph import (
    MAX_LISTED_HOLDERS,
    StateView,
    get_asset_view,
    get_downstream,
    get_earnings,
    get_upstream,
)
from state.order_book import get_fill_head, get_order, get_recent_fills, iter_levels, iter_open_orders
from state.order_book import Status as OrderStatus
from state.params import POWER_REDUCTION, Params
from state.poa_records import Attributor, Escrow, EscrowStatus
from state.proof import verify_proof
from state.records import LastBlock, TxRecord, prune_heights, restored_records
from state.revenue import TOTAL_SHARES, get_position, iter_held_assets, iter_holders
from state.simple_merkle import EMPTY_HASH, merkle_proof, verify_merkle_proof
from state.store import MAX_KEY_BYTES, Store
from state.tx import (
    KINDS,
    MAX_AMOUNT,
    MAX_TX_BYTES,
    PPM,
    SignedTx,
    address,
    algorithm_text,
    asset_id,
    boolean,
    contribution_scores,
    curator_list,
    decode_tx,
    encoded_vote,
    name_text,
    order_side,
    pubkey,
    sign_tx,
    source_weights,
    tx_id,
    uri_text,
    validate_basic,
    verify_signature,
)

__all__ = [
    # the ledger, its store and its records
    "Ledger", "BlockResult", "process_tx", "Store", "MAX_KEY_BYTES", "Genesis", "GenesisValidator",
    "Params", "POWER_REDUCTION", "BlockInfo", "Context", "BlockError", "TxError",
    # the records each block writes beside its state: what the getters return, what state
    # sync writes, what pruning deletes (state/records.py owns their keys)
    "LastBlock", "TxRecord", "restored_records", "prune_heights",
    # transactions: format, id, signing, the schema and its field types (clients build forms from them)
    "KINDS", "MAX_AMOUNT", "MAX_TX_BYTES", "PPM", "SignedTx", "decode_tx", "sign_tx", "tx_id",
    "validate_basic", "verify_signature", "address", "algorithm_text", "asset_id", "boolean",
    "contribution_scores", "curator_list", "encoded_vote", "name_text", "order_side", "pubkey",
    "source_weights", "uri_text",
    # blocks and proofs
    "Block", "Header", "compute_data_hash", "EMPTY_HASH", "merkle_proof", "verify_merkle_proof",
    "verify_proof", "decode_value", "encode_value",
    # read-only views of assets, attribution, revenue rights and the market (RPC, light client)
    "AssetKind", "AssetRecord", "Pool", "Status", "compute_asset_id", "compute_contribution_id",
    "get_asset", "get_earned", "get_require_asset", "StateView", "MAX_LISTED_HOLDERS", "get_asset_view",
    "get_downstream", "get_earnings", "get_upstream", "compute_use_flows", "get_claimable", "TOTAL_SHARES",
    "get_position", "iter_held_assets", "iter_holders", "OrderStatus", "get_fill_head", "get_order",
    "get_recent_fills", "iter_levels", "iter_open_orders", "Attributor", "Escrow", "EscrowStatus",
    # the keys proven queries name (a proof is about a key): one function per key they check
    "proof_keys",
]
