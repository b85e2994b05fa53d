"""Chain parameters: fixed at genesis, stored in state under `keys.PARAMS` (so they are
covered by the app hash), read once per block. Defaults follow LEDGER.md and the Cosmos
SDK where LEDGER.md names no value."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import msgpack

POWER_REDUCTION = 1_000_000       # voting power = bonded uopen // 1,000,000


@dataclass(frozen=True, slots=True)
class Params:
    min_fee: int = 1_000                    # uopen per tx
    max_tx_bytes: int = 4096
    max_block_txs: int = 10_000
    protocol_fee_ppm: int = 50_000          # share of every `use` payment that goes to validators
    unbonding_blocks: int = 1_000
    max_validators: int = 100
    slash_double_sign_ppm: int = 50_000     # 5 %
    slash_downtime_ppm: int = 100           # 0.01 %
    signed_blocks_window: int = 100
    min_signed_ppm: int = 500_000           # 50 %
    downtime_jail_blocks: int = 600
    evidence_max_age_blocks: int = 100      # must be < unbonding_blocks (see docs/ledger.md)
    max_order_blocks: int = 100_000         # an order's expires_at is at most height + this
    max_fills_per_order: int = 16           # matching work of one placement (docs/market.md)
    max_expiry_sweep: int = 256             # expired orders closed at the end of a block
    # Proof of Attribution per use (state/poa.py, docs/poa.md)
    attributor_bond: int = 10_000_000       # 10 OPEN, paid by set_attributor's sender
    attestation_blocks: int = 20            # a use's escrow waits this long for an attestation
    challenge_blocks: int = 20              # an attestation may be challenged this long
    challenge_bond: int = 1_000_000         # 1 OPEN at least
    max_poa_deadlines_per_block: int = 100  # escrows settled at the end of one block, at most

    def encode(self) -> bytes:
        return msgpack.packb([getattr(self, f.name) for f in fields(self)], use_bin_type=True)

    @classmethod
    def decode(cls, data: bytes) -> "Params":
        return cls(*msgpack.unpackb(data, raw=False))

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Params":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown parameters: {sorted(unknown)}")
        p = cls(**d)
        p.check()
        return p

    def check(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if type(v) is not int or v < 0:
                raise ValueError(f"param {f.name} must be a non-negative integer")
        for name in ("protocol_fee_ppm", "slash_double_sign_ppm", "slash_downtime_ppm", "min_signed_ppm"):
            if getattr(self, name) > 1_000_000:
                raise ValueError(f"param {name} is a ppm value, at most 1,000,000")
        for name in ("signed_blocks_window", "max_validators", "max_fills_per_order", "attestation_blocks",
                     "challenge_blocks", "max_poa_deadlines_per_block"):
            if getattr(self, name) < 1:
                raise ValueError(f"param {name} must be >= 1")
        if self.evidence_max_age_blocks >= self.unbonding_blocks:
            raise ValueError("evidence_max_age_blocks must be < unbonding_blocks, or a "
                             "double signer could unbond before its evidence is seen")
