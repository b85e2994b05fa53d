"""attrchain's light client: verify headers, proofs and submissions without trusting
any full node (docs/light.md); its two providers (RPC, libp2p), the handlers a full node
serves it with, and its benchmark."""
from node.light.bench import bench_command
from node.light.client import LightClient, ProvenAccount, ProvenTx, ProvenValue
from node.light.errors import LightError, ProviderError, TrustError, VerificationError
from node.light.headers import DEFAULT_TRUSTING_PERIOD_MS, wall_clock_ms
from node.light.p2p_provider import P2PProvider, open_p2p_provider
from node.light.rpc_provider import RpcProvider
from node.light.serve import register_light_handlers
from node.light.store import TrustedStore
from node.light.types import DEFAULT_TRUST_LEVEL, LightBlock, check_trust_level

__all__ = ["LightClient", "ProvenAccount", "ProvenTx", "ProvenValue", "DEFAULT_TRUSTING_PERIOD_MS",
           "wall_clock_ms", "LightError", "ProviderError", "TrustError", "VerificationError",
           "P2PProvider", "open_p2p_provider", "RpcProvider", "register_light_handlers", "TrustedStore",
           "DEFAULT_TRUST_LEVEL", "LightBlock", "check_trust_level", "bench_command"]
