"""attrchain's light client: verify headers, proofs and submissions without trusting
any full node (docs/light.md)."""
from node.light.client import LightClient, ProvenAccount, ProvenTx, ProvenValue
from node.light.errors import LightError, ProviderError, TrustError, VerificationError
from node.light.store import TrustedStore
from node.light.types import DEFAULT_TRUST_LEVEL, LightBlock

__all__ = ["LightClient", "ProvenAccount", "ProvenTx", "ProvenValue", "LightError", "ProviderError",
           "TrustError", "VerificationError", "TrustedStore", "DEFAULT_TRUST_LEVEL", "LightBlock"]
