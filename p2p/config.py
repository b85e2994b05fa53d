"""Settings of the libp2p transport. Plain data: the node builds this from its config
file without importing libp2p."""
from __future__ import annotations

from dataclasses import dataclass

from .ids import check_chain_id


@dataclass(frozen=True)
class P2PConfig:
    chain_id: str
    identity_seed: bytes  # 32 bytes from the node key file -> a stable ed25519 peer id
    listen_addrs: tuple[str, ...] = ("/ip4/127.0.0.1/tcp/0",)
    # Multiaddrs with /p2p/<peer id>: dialled at start and redialled within
    # `redial_interval` of losing them; exempt from scoring and bans.
    persistent_peers: tuple[str, ...] = ()
    # Peer ids of the validators (ours included if we are one): exempt from scoring
    # and bans. Persistent peers that are validators become gossipsub direct peers
    # when we are a validator too (direct peering must be mutual). Left empty, every
    # persistent peer is taken as a fellow validator.
    validator_peer_ids: tuple[str, ...] = ()
    # Every validator is a persistent (direct) peer of every other: do not relay a
    # message from its origin to the other direct peers (libp2p_transport._GossipSub).
    validator_full_mesh: bool = False
    max_gossip_size: int = 512 * 1024  # enforced on publish (MessageTooLarge) and receive
    max_request_size: int = 256 * 1024
    max_response_size: int = 8 * 1024 * 1024
    outbound_queue_size: int = 1024  # messages per topic waiting to be sent
    inbound_queue_size: int = 8192  # messages per topic waiting for the subscriber
    heartbeat_interval: float = 1.0
    redial_interval: float = 0.2
    # A dial is cut after `dial_timeout` so a hung one does not hold back the next attempt
    # for long; each cut doubles that peer's next timeout up to `max_dial_timeout` (a
    # loaded host's Noise + Yamux handshake can take over 1 s); a connection resets it.
    dial_timeout: float = 1.0
    max_dial_timeout: float = 10.0
    # Our inbound limiter, per forwarding peer (the library's spam protection is off).
    inbound_msgs_per_s: float = 2000.0
    inbound_bytes_per_s: float = 64 * 1024 * 1024
    ban_threshold: float = 100.0
    ban_seconds: float = 60.0
    handler_timeout: float = 10.0  # a request handler that takes longer is cancelled
    # Inbound connections (p2p/inbound.py): a socket must finish the Noise + Yamux
    # handshake within `handshake_timeout`; at most `max_pending_handshakes` handshakes
    # at once (`max_handshakes_per_host` from one address; persistent peers' addresses
    # have their own pool); at most `max_inbound_peers` peers besides validators and
    # persistent peers, who always get through.
    handshake_timeout: float = 2.0
    max_pending_handshakes: int = 64
    max_handshakes_per_host: int = 8
    max_inbound_peers: int = 128
    # Peer exchange (p2p/pex.py): answer PEX requests and, while fewer than `max_peers`
    # peers are connected, ask a connected peer for addresses every `pex_interval` and
    # dial them. `seeds` (multiaddrs with /p2p/) start the address book. Peers in
    # `private_peer_ids` (a sentry's validator) are never given out nor stored.
    pex: bool = False
    max_peers: int = 50
    seeds: tuple[str, ...] = ()
    private_peer_ids: tuple[str, ...] = ()
    pex_interval: float = 5.0
    pex_max_interval: float = 60.0  # the wait after rounds that learn nothing (doubles up to it)
    pex_min_interval: float = 1.0  # a peer asking more often is refused and penalised
    library_log_level: str = "CRITICAL"  # py-libp2p logs failed dials as ERROR tracebacks

    def __post_init__(self) -> None:
        check_chain_id(self.chain_id)
        if type(self.identity_seed) is not bytes or len(self.identity_seed) != 32:
            raise ValueError("identity_seed must be 32 bytes")
        for kind, addrs in (("persistent peer", self.persistent_peers), ("seed", self.seeds)):
            for addr in addrs:
                if "/p2p/" not in addr:
                    raise ValueError(f"{kind} {addr!r} lacks /p2p/<peer id>")
        if not 0 < self.pex_interval <= self.pex_max_interval:
            raise ValueError("pex_interval must be > 0 and at most pex_max_interval")
        if self.max_gossip_size > 1000 * 1024:
            # py-libp2p silently drops RPCs over 1 MiB at the sender.
            raise ValueError("max_gossip_size must stay under 1 MiB")
