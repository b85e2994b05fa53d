"""Where a light client gets its data: a full node it does not trust (CometBFT's
"provider"). Everything a provider returns is checked by the client before use."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from consensus.types import Commit, ValidatorSet
from node.light.proofs import StateProof, TxInclusionProof
from state.block import Block, Header


@dataclass(frozen=True)
class SignedHeader:
    header: Header
    commit: Commit
    validators: ValidatorSet | None   # None: the provider sent only the set's hash (header)


@dataclass(frozen=True)
class SubmitResult:
    tx_id: bytes
    code: str            # "0"-like success is code == "ok"; else the node's refusal code
    log: str

    @property
    def accepted(self) -> bool:
        return self.code == "ok"


@dataclass(frozen=True)
class AccountAnswer:
    proof: StateProof
    claimed_balance: int | None
    claimed_nonce: int | None


class Provider(Protocol):
    name: str

    async def latest_height(self) -> int: ...
    async def signed_header(self, height: int) -> SignedHeader: ...
    async def tx_proof(self, tx_id: bytes) -> TxInclusionProof | None: ...
    async def blocks(self, start: int, end: int) -> list[Block]: ...
    async def state_proof(self, key: bytes, height: int) -> StateProof: ...
    async def account(self, address: bytes, height: int) -> AccountAnswer: ...
    async def submit(self, tx: bytes) -> SubmitResult: ...
    async def aclose(self) -> None: ...
