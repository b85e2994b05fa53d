"""Recompute a use's attestations and compare them with the chain (`attrchain poa verify`).

For each escrow the use opened (`proof_keys.use_escrows`): read the attestation, check
that the output held hashes to its `output_hash`, rebuild the datanet's index from the
files given (only contributions accepted in the state after the attestation's block, the
state the attest tx was checked against), score with the attested algorithm and compare,
entry by entry. Every read goes through a proving reader `read(key, height) -> bytes | None`
of the keys `state.proof_keys` names.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable

from node.poa import span_v1
from node.poa.chain import read_accepted_contributions
from node.poa.index import build_index, match_files, sha256
from state.codec import decode_value
from state import proof_keys
from state.poa_records import Escrow, EscrowStatus

ReaderAt = Callable[[bytes, int | None], Awaitable[bytes | None]]

SCORERS = {span_v1.ALGORITHM: span_v1.score}


@dataclass
class Finding:
    attestation: bytes
    datanet: bytes
    status: str                 # "match", "mismatch", "not_attested", "wrong_output", "unknown_algorithm"
    attested: list = field(default_factory=list)      # [[contribution id, ppm]]
    recomputed: list = field(default_factory=list)
    missing_files: int = 0      # accepted contributions with no file in the data dir
    challenge_by: int = 0

    def to_json(self) -> dict:
        return {"attestation": self.attestation.hex(), "datanet": self.datanet.hex(), "status": self.status,
                "attested": [[c.hex(), s] for c, s in self.attested],
                "recomputed": [[c.hex(), s] for c, s in self.recomputed],
                "missing_files": self.missing_files, "challenge_by": self.challenge_by}


async def verify_use(read: ReaderAt, use: bytes, output: bytes, data_dir: Path) -> list[Finding]:
    raw = await read(proof_keys.use_escrows(use), None)
    findings = []
    for aid in (decode_value(raw) if raw is not None else []):
        e = Escrow.decode(decode_value(await read(proof_keys.escrow(aid), None)))
        f = Finding(aid, e.datanet, "match", [(c, s) for c, s in e.scores], challenge_by=e.challenge_by)
        findings.append(f)
        if not e.attested_at or e.status in (EscrowStatus.OPEN, EscrowStatus.FALLBACK):
            f.status = "not_attested"
            continue
        scorer = SCORERS.get(e.algorithm)
        if scorer is None:
            f.status = "unknown_algorithm"
            continue
        if sha256(output) != e.output_hash:
            f.status = "wrong_output"
            continue

        async def read_then(key: bytes, h: int = e.attested_at) -> bytes | None:
            return await read(key, h)
        accepted = await read_accepted_contributions(read_then, e.datanet)
        documents, missing = match_files(data_dir, accepted)
        f.missing_files = len(missing)
        f.recomputed = scorer(output, build_index(e.datanet, documents))
        if f.recomputed != f.attested:
            f.status = "mismatch"
    return findings
