"""Genesis: the chain id, initial balances, the initial validators and the parameters.

JSON on disk (addresses as `open1...`, keys as hex, amounts as integers). Genesis stake is
issued as bonded stake (it is not taken from a balance); the genesis supply is the sum of
balances and stakes and is recorded in state, so the supply invariant has a fixed origin.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from state.address import address_from_pubkey, decode_address, encode_address
from state.codec import encode_value
from state.keys import (
    BURNED,
    CHAIN_ID,
    GENESIS_SUPPLY,
    PARAMS,
    VALIDATORS,
    account_key,
    validator_by_consensus_key,
    validator_key,
)
from state.params import POWER_REDUCTION, Params
from state.tx import MAX_AMOUNT, MAX_CHAIN_ID_BYTES


@dataclass(frozen=True)
class GenesisValidator:
    consensus_pubkey: bytes
    operator: bytes          # 20-byte account address that operates it and receives its fees
    stake: int


@dataclass(frozen=True)
class Genesis:
    chain_id: str
    genesis_time_ms: int
    balances: tuple[tuple[bytes, int], ...] = ()
    validators: tuple[GenesisValidator, ...] = ()
    params: Params = field(default_factory=Params)

    def check(self) -> None:
        if not isinstance(self.chain_id, str) or not 0 < len(self.chain_id.encode()) <= MAX_CHAIN_ID_BYTES:
            raise ValueError("genesis chain_id must be a non-empty string of at most 64 bytes")
        if type(self.genesis_time_ms) is not int or self.genesis_time_ms < 0:
            raise ValueError("genesis_time_ms must be a non-negative integer")
        self.params.check()
        seen = set()
        for addr, amount in self.balances:
            if len(addr) != 20 or addr in seen:
                raise ValueError("genesis balances: bad or duplicate address")
            seen.add(addr)
            if type(amount) is not int or not 0 <= amount <= MAX_AMOUNT:
                raise ValueError("genesis balance out of range")
        if not self.validators:
            raise ValueError("genesis needs at least one validator")
        ops, cons = set(), set()
        for v in self.validators:
            if len(v.consensus_pubkey) != 32 or len(v.operator) != 20:
                raise ValueError("genesis validator: bad key or operator")
            ca = address_from_pubkey(v.consensus_pubkey)
            if v.operator in ops or ca in cons:
                raise ValueError("genesis validators: duplicate operator or consensus key")
            ops.add(v.operator)
            cons.add(ca)
            if type(v.stake) is not int or not POWER_REDUCTION <= v.stake <= MAX_AMOUNT:
                raise ValueError("genesis validator stake must give at least one unit of power")
        if self.total_supply() > MAX_AMOUNT:
            raise ValueError("genesis supply exceeds 2**63-1")

    def total_supply(self) -> int:
        return sum(a for _, a in self.balances) + sum(v.stake for v in self.validators)

    # --- JSON ---------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {
            "chain_id": self.chain_id,
            "genesis_time_ms": self.genesis_time_ms,
            "balances": [{"address": encode_address(a), "amount": n} for a, n in self.balances],
            "validators": [{"consensus_pubkey": v.consensus_pubkey.hex(),
                            "operator": encode_address(v.operator), "stake": v.stake}
                           for v in self.validators],
            "params": self.params.to_json(),
        }

    @classmethod
    def from_json(cls, d: dict) -> "Genesis":
        g = cls(
            chain_id=d["chain_id"],
            genesis_time_ms=d["genesis_time_ms"],
            balances=tuple((decode_address(b["address"]), b["amount"]) for b in d.get("balances", [])),
            validators=tuple(GenesisValidator(bytes.fromhex(v["consensus_pubkey"]),
                                              decode_address(v["operator"]), v["stake"])
                             for v in d["validators"]),
            params=Params.from_json(d.get("params", {})),
        )
        g.check()
        return g

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Genesis":
        return cls.from_json(json.loads(Path(path).read_text()))

    # --- the initial state ------------------------------------------------------------------
    def initial_state(self) -> dict[bytes, bytes]:
        """State changes of height 0."""
        from state.staking import ValidatorRecord
        self.check()
        changes: dict[bytes, bytes] = {
            CHAIN_ID: encode_value(self.chain_id),
            PARAMS: self.params.encode(),
            GENESIS_SUPPLY: encode_value(self.total_supply()),
            BURNED: encode_value(0),
        }
        for addr, amount in self.balances:
            changes[account_key(addr)] = encode_value([amount, 0])
        for v in self.validators:
            changes[validator_key(v.operator)] = encode_value(ValidatorRecord(v.consensus_pubkey, v.stake).encode())
            changes[validator_by_consensus_key(address_from_pubkey(v.consensus_pubkey))] = v.operator
        changes[VALIDATORS] = encode_value(sorted(v.operator for v in self.validators))
        return changes

    def initial_validator_set(self):
        from consensus.types import Validator, ValidatorSet
        from state.staking import compute_voting_power
        ranked = sorted(self.validators, key=lambda v: (-v.stake, address_from_pubkey(v.consensus_pubkey)))
        ranked = ranked[:self.params.max_validators]
        return ValidatorSet(Validator.from_pub_key(v.consensus_pubkey, compute_voting_power(v.stake))
                            for v in ranked)
