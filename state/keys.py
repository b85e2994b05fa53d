"""The key layout of the state (merkleized) and of the records (not merkleized).

Every state key starts with a short prefix naming its table. The store has no range
scans, so anything the state machine must enumerate is either a small index under a
`sys/` key (the validator list) or keyed by the height at which it is due (the unbonding
queue). Integers in keys are 8-byte big-endian so keys sort by height.

Asset-side prefixes (`ast/`, `shr/`, `ern/`, `pol/`, `acr/`, `rev/`, `rnk/`, `hix/`) are
reserved for state/asset_records.py and state/revenue.py, which define their own key functions.
"""
from __future__ import annotations

import struct

_U64 = struct.Struct(">Q")


def u64(n: int) -> bytes:
    return _U64.pack(n)


# --- state: accounts ------------------------------------------------------------------
ACCOUNT = b"acc/"                   # + address20 -> [balance, nonce]

# --- state: staking ---------------------------------------------------------------------
VALIDATOR = b"val/"                 # + operator address20 -> Validator record
VALIDATOR_BY_CONSENSUS = b"vcn/"    # + consensus address20 -> operator address20
UNBONDING = b"unb/"                 # + operator address20 -> [[release_height, amount, created], ...]
UNBONDING_QUEUE = b"unq/"           # + u64 release height -> [operator address20, ...]
SIGNING_INFO = b"liv/"              # + consensus address20 -> [start_height, missed, bitmap]
VALIDATORS = b"sys/validators"      # sorted list of every operator address with a record
FEE_POOL = b"sys/fee_pool"          # fees not yet paid out (no signer in the last commit)
BURNED = b"sys/burned"              # total uopen destroyed (slashes); supply = genesis - burned
GENESIS_SUPPLY = b"sys/genesis_supply"
PARAMS = b"sys/params"
CHAIN_ID = b"sys/chain_id"

# --- records: written in the same batch, not merkleized ---------------------------------
BLOCK_RECORD = b"blk/"              # + u64 height -> block bytes
BLOCK_ID_RECORD = b"bid/"           # + u64 height -> block id
RESULTS_RECORD = b"res/"            # + u64 height -> [[code, log], ...] per tx, in block order
TX_RECORD = b"txr/"                 # + tx id -> [height, index, code, log]
LAST_BLOCK_RECORD = b"last_block"  # [height, time_ms, block id] of the last committed block
VALSET_RECORD = b"vst/"             # + u64 height -> encoded ValidatorSet that signs that height


def account_key(address: bytes) -> bytes:
    return ACCOUNT + address


def validator_key(operator: bytes) -> bytes:
    return VALIDATOR + operator


def validator_by_consensus_key(consensus_address: bytes) -> bytes:
    return VALIDATOR_BY_CONSENSUS + consensus_address


def unbonding_key(operator: bytes) -> bytes:
    return UNBONDING + operator


def unbonding_queue_key(release_height: int) -> bytes:
    return UNBONDING_QUEUE + u64(release_height)


def signing_info_key(consensus_address: bytes) -> bytes:
    return SIGNING_INFO + consensus_address


def block_record_key(height: int) -> bytes:
    return BLOCK_RECORD + u64(height)


def block_id_record_key(height: int) -> bytes:
    return BLOCK_ID_RECORD + u64(height)


def results_record_key(height: int) -> bytes:
    return RESULTS_RECORD + u64(height)


def tx_record_key(tx_id: bytes) -> bytes:
    return TX_RECORD + tx_id


def valset_record_key(height: int) -> bytes:
    return VALSET_RECORD + u64(height)
