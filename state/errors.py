"""Why a transaction or block was refused: a stable code and a message naming the reason.

Codes are part of the protocol's observable behaviour (they are recorded in tx results
and returned by RPC), so never renumber one; append new codes at the end of their group.
"""
from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    OK = 0
    # --- encoding / stateless (validate_basic) -------------------------------------
    TX_TOO_LARGE = 1
    MALFORMED_ENCODING = 2
    WRONG_CHAIN_ID = 3
    BAD_SIGNATURE = 4
    UNKNOWN_KIND = 5
    MISSING_FIELD = 6
    EXTRA_FIELD = 7
    WRONG_TYPE = 8
    OUT_OF_RANGE = 9
    FEE_TOO_LOW = 10
    TOO_MANY_ITEMS = 11
    DUPLICATE_ITEM = 12
    WEIGHTS_EXCEED_TOTAL = 13
    BAD_ADDRESS = 14
    BAD_PUBKEY = 15
    STRING_TOO_LONG = 16
    ZERO_AMOUNT = 17
    INVALID_EVIDENCE = 18
    SELF_REFERENCE = 19
    # --- account / ante ---------------------------------------------------------------
    STALE_NONCE = 30
    FUTURE_NONCE = 31
    INSUFFICIENT_FUNDS = 32
    AMOUNT_OVERFLOW = 33
    # --- staking -------------------------------------------------------------------------
    VALIDATOR_EXISTS = 40
    CONSENSUS_KEY_IN_USE = 41
    NOT_A_VALIDATOR = 42
    BOND_TOO_SMALL = 43
    INSUFFICIENT_BOND = 44
    NOT_JAILED = 45
    JAIL_NOT_EXPIRED = 46
    TOMBSTONED = 47
    EVIDENCE_TOO_OLD = 48
    EVIDENCE_FROM_FUTURE = 49
    UNKNOWN_VALIDATOR = 50
    # --- assets / attribution (used by state/assets.py, state/attribution.py) -----------
    UNKNOWN_ASSET = 60
    WRONG_ASSET_KIND = 61
    WRONG_EDGE_KIND = 62
    EXPANSION_TOO_LARGE = 64
    NOT_CURATOR = 65
    ALREADY_REVIEWED = 66
    NOT_OWNER = 67
    PRICE_ABOVE_MAX = 68
    INSUFFICIENT_SHARES = 69
    NOTHING_TO_CLAIM = 70
    ASSET_EXISTS = 71
    NOT_ACCEPTED = 72
    # --- the market for revenue rights (state/market.py) ----------------------------------
    ORDER_PRICE_ZERO = 80
    ORDER_SHARES_OUT_OF_RANGE = 81
    ESCROW_OVERFLOW = 82
    EXPIRY_IN_PAST = 83
    EXPIRY_TOO_FAR = 84
    UNKNOWN_ORDER = 85
    NOT_ORDER_OWNER = 86
    ORDER_FILLED = 87
    ORDER_EXPIRED = 88
    ORDER_CANCELLED = 89
    # --- blocks -------------------------------------------------------------------------
    INTERNAL = 99
    # --- Proof of Attribution per use (state/poa.py) ---------------------------------------
    NOT_ATTRIBUTOR = 110
    NO_ESCROW = 111
    ATTESTATION_WINDOW_CLOSED = 112
    ALREADY_ATTESTED = 113
    WRONG_DATANET = 114
    SCORES_EXCEED_TOTAL = 115
    UNKNOWN_ALGORITHM = 116
    NOT_ATTESTED = 117
    CHALLENGE_WINDOW_CLOSED = 118
    ALREADY_CHALLENGED = 119
    CHALLENGE_BOND_TOO_SMALL = 120
    NO_CHALLENGE = 121
    ALREADY_VOTED = 122


class TxError(Exception):
    """A transaction is invalid. `code` is stable; `message` names the reason for humans."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = Code(code)
        self.message = message

    def __repr__(self) -> str:
        return f"TxError({self.code.name}, {self.message!r})"


class BlockError(Exception):
    """A block is invalid as a whole (header, last commit, evidence): it must not be applied."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
