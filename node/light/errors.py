"""Errors of the light client: every refusal names its reason with a stable code.

Verification errors mean the full node lied (or served something we cannot trust);
provider errors mean it could not answer. Callers tell them apart by class.
"""
from __future__ import annotations


class LightError(Exception):
    """`code` is stable (tests and scripts match on it); `reason` is for people."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class VerificationError(LightError):
    """What a full node served does not verify: it lied, or is on another chain."""


class ProviderError(LightError):
    """The full node could not answer (unreachable, not found, timeout, malformed)."""


class TrustError(LightError):
    """The light client has no trusted state to verify against (run `light init`)."""
