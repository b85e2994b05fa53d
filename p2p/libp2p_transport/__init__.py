"""The Transport over py-libp2p (transport.py, the one module that imports libp2p).

A package of its own so that `import p2p` does not load libp2p (about half a second):
only a process that opens a real network, or checks a multiaddr, pays for it."""
from p2p.libp2p_transport.transport import (
    Libp2pTransport,
    check_addresses,
    multiaddr_protocols,
    open_libp2p_transport,
    peer_id_from_seed,
)

__all__ = ["Libp2pTransport", "check_addresses", "multiaddr_protocols", "open_libp2p_transport",
           "peer_id_from_seed"]
