"""The Transport over py-libp2p 0.8.1 -- the only module of the project that imports libp2p.

    async with open_libp2p_transport(config) as transport:
        ...

Configured for a validator network (see ../../shared/notes/py-libp2p.md for each trap):
Noise only, Yamux only, gossipsub v1.1 with ~1 s heartbeat, content-hash message ids,
the library's spam protection off and our per-peer inbound limiter on, synchronous
validators that never raise, our own bounded outbound queue per topic with backpressure
on the library's 32-entry per-peer queue, persistent peers as gossipsub direct peers
redialled by our own supervisor every 0.2 s, peer scoring for non-validator peers.
What a peer sends is admitted by p2p/policy.py, the policy the memory transport runs too.
"""
from __future__ import annotations

import hashlib
import logging
import time
import weakref
from contextlib import asynccontextmanager
from typing import AsyncIterator

import msgpack
import multiaddr
import trio

import libp2p.pubsub.gossipsub as libp2p_gossipsub
import libp2p.pubsub.pubsub as libp2p_pubsub
from libp2p import new_host
from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.x25519 import create_new_key_pair as create_new_x25519_key_pair
from libp2p.custom_types import TProtocol
from libp2p.network.auto_connector import AutoConnector
from libp2p.network.config import RetryConfig
from libp2p.io.exceptions import MessageTooLarge as LibMessageTooLarge
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import PeerInfo, info_from_p2p_addr
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub
from libp2p.pubsub.score import ScoreParams
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux, YamuxStream
from libp2p.tools.anyio_service import background_trio_service
from libp2p.utils.varint import encode_varint_prefixed, read_varint_prefixed_bytes_limited

from p2p.config import P2PConfig
from p2p.counters import TransportCounters
from p2p.dial_backoff import DialBackoff
from p2p.inbound import InboundGate
from p2p.ids import PEX, ChainTopics
from p2p.limiter import InboundLimiter
from p2p.messages import MessageError
from p2p.penalties import DEFAULT_POINTS, POINTS, PenaltyBook
from p2p.policy import RESPONSE_OK, Answer, InboundPolicy
from p2p.pex import MAX_ANSWER_BYTES, PeerBook, PexPacer, decode_answer, encode_answer
from p2p.transport import (
    EventFanout, Gossip, GossipCheck, MessageTooLarge, PeerEvent, PeerId, RequestError, RequestHandler,
)

log = logging.getLogger("attrchain.p2p")


class _Pubsub(Pubsub):
    """Two library fixes, found by `attrchain testnet bench` (a node died under load):
    - yamux `stream.write` takes its lock per FRAME, so two tasks writing RPCs to one
      peer's stream (the per-peer queue's publishes and the heartbeat's control
      messages) interleave the frames of a large RPC; the receiver then reads a
      corrupt frame. One lock per stream makes each RPC's bytes contiguous.
    - a frame that does not parse (`DecodeError`) escaped the read loop and killed the
      whole process: any peer could crash a node. It now resets that stream only."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._write_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    async def write_msg(self, stream, rpc_msg) -> bool:
        lock = self._write_locks.get(stream)
        if lock is None:
            lock = self._write_locks[stream] = trio.Lock()
        async with lock:
            return await super().write_msg(stream, rpc_msg)

    async def continuously_read_stream(self, stream) -> None:
        from google.protobuf.message import DecodeError
        try:
            await super().continuously_read_stream(stream)
        except DecodeError as e:
            peer_id = stream.muxed_conn.peer_id
            log.warning("pubsub frame from %s does not parse (%s): stream reset", peer_id, e)
            try:
                await stream.reset()
            except Exception:  # noqa: BLE001 -- already broken
                pass
            self._handle_dead_peer(peer_id)

# Per-message work of the library that buys a validator network nothing (py-spy of an
# idle 4-validator testnet, docs/bench.md "Idle"): about a fifth of a node's idle CPU.
# - Yamux sends a WINDOW_UPDATE frame after EVERY read: one more encrypted frame out and
#   in per gossip message (its PY_YAMUX_RELEASE_ON_READ=0 does not stop it: the "partial
#   slack" branch of `_auto_tune_and_send_window_update` still answers each read).
#   `_window_update_at_half` lets the library's update run only once half the receive
#   window is consumed, as go-yamux does; the library's auto-tune still grows the window.
# - Every pubsub RPC carries the sender's signed peer record: the sender rebuilds it
#   from its listen sockets (multiaddr parsing) per RPC, and the receiver verifies its
#   signature twice per RPC (pubsub, then gossipsub). The envelope is built once per
#   host here (refreshed every ENVELOPE_REFRESH_S), and a record already verified for
#   that peer is taken as is (re-verified after RECORD_RECHECK_S, well within the 2 h
#   TTL the library gives it).
ENVELOPE_REFRESH_S = 30.0
RECORD_RECHECK_S = 600.0
_library_env_to_send = libp2p_gossipsub.env_to_send_in_RPC
_library_consume_record = libp2p_gossipsub.maybe_consume_signed_record
_library_window_update = YamuxStream._auto_tune_and_send_window_update
_envelopes: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # host -> (built at, envelope)
_records_seen: dict[tuple[bytes, bytes], float] = {}  # (peer id, record bytes) -> verified at


async def _window_update_at_half(self: YamuxStream, *, bytes_read: int = 0) -> None:
    buffered = len(self.conn.stream_buffers.get(self.stream_id, b""))
    if self.target_recv_window - (self.recv_window + buffered) < self._grow_threshold():
        return  # less than half the window consumed: the peer can still send half a window
    await _library_window_update(self)  # its GrowTo branch: credit back to the target


YamuxStream._auto_tune_and_send_window_update = _window_update_at_half


def _envelope_once(host) -> tuple[bytes, bool]:
    now = time.monotonic()
    hit = _envelopes.get(host)
    if hit is not None and now - hit[0] < ENVELOPE_REFRESH_S:
        return hit[1], False
    envelope, fresh = _library_env_to_send(host)
    _envelopes[host] = (now, envelope)
    return envelope, fresh


def _consume_record_once(rpc, host, peer_id) -> bool:
    if not rpc.HasField("senderRecord"):
        return True
    key = (peer_id.to_bytes(), rpc.senderRecord)
    now = time.monotonic()
    seen = _records_seen.get(key)
    if seen is not None and now - seen < RECORD_RECHECK_S:
        return True
    if not _library_consume_record(rpc, host, peer_id):
        return False
    if len(_records_seen) >= 4096:  # bounded: peers' records change rarely
        _records_seen.clear()
    _records_seen[key] = now
    return True


for _module in (libp2p_pubsub, libp2p_gossipsub):
    _module.env_to_send_in_RPC = _envelope_once
    _module.maybe_consume_signed_record = _consume_record_once


class _GossipSub(GossipSub):
    """With `validator_full_mesh`, a message that came straight from its origin, a direct
    peer, is not relayed to our other direct peers: the origin sent it to each of them
    itself (validators list each other). Without this every validator received every
    vote, proposal and tx batch once from each of the n - 1 others (n - 2 relays), so a
    node's CPU per message grew with n. Mesh peers (full nodes) are still relayed to.
    A missing validator link costs that pair the other's gossip until the supervisor
    redials it (redial_interval); lost votes and txs are pulled (node/runtime/sync.py)."""

    full_mesh = False

    async def handle_graft(self, graft_msg: rpc_pb2.ControlGraft, sender_peer_id: ID) -> None:
        # Direct peering made mutual on the fly. Gossipsub never GRAFTs a peer it holds as
        # direct, so a GRAFT from a peer we hold as direct proves it does not hold us as
        # direct: it only meshes with us (a full node's validator, which does not list the
        # full node). The library answers such a GRAFT with a PRUNE and the two then exchange
        # nothing. We demote the peer to an ordinary mesh peer instead and accept the GRAFT,
        # so traffic flows both ways whichever side lists the other.
        if sender_peer_id in self.direct_peers and graft_msg.topicID in self.mesh:
            log.info("peer %s meshes with us but does not peer directly: now a mesh peer", sender_peer_id)
            del self.direct_peers[sender_peer_id]
        await super().handle_graft(graft_msg, sender_peer_id)

    def _get_in_topic_gossipsub_peers_from_minus(self, topic, num_to_select, minus, backoff_check=False):
        # The library's one pick of peers for the mesh (join, heartbeat), fanout and IHAVE
        # gossip: never a direct peer (it gets every message anyway; go-gossipsub skips them
        # too). The library picked them, so validators GRAFTed each other now and then, the
        # GRAFT read as one-sided peering (handle_graft) and the validator was demoted to a
        # mesh peer that got relays again (the full-mesh test failed ~1 run in 6).
        return super()._get_in_topic_gossipsub_peers_from_minus(
            topic, num_to_select, set(minus) | set(self.direct_peers), backoff_check)

    def _get_peers_to_send(self, topic_ids, msg_forwarder, origin, msg_id=None):
        peers = super()._get_peers_to_send(topic_ids, msg_forwarder, origin, msg_id)
        if self.full_mesh and msg_forwarder == origin and origin in self.direct_peers:
            return [p for p in peers if p not in self.direct_peers]
        return peers


class _ParkedAutoConnector(AutoConnector):
    """py-libp2p 0.8.1's connection-manager dialer, parked. The swarm runs it every 10 s
    (every 30 s above 50 connections) and after every disconnect: below 200 connections
    it dials up to 32 peers of the peerstore -- any address the library ever stored
    (peer records in pubsub RPCs, inbound peers, banned or private ones) -- outside our
    rules (max_peers, bans, private peer ids), logging "initiating 197 new dials" each
    time. Our redial supervisor (persistent peers) and PEX (up to max_peers) dial instead."""

    async def run_background_task(self, nursery: trio.Nursery) -> None:
        pass

    async def maybe_connect(self) -> None:
        pass


# When any peer's library queue (32 RPCs, overflow silently dropped) holds this many,
# our sender waits before publishing more: backpressure instead of loss.
PEER_QUEUE_HIGH_WATER = 20
PEER_QUEUE_LIMIT = 32
BACKPRESSURE_MAX_WAIT = 2.0  # a peer that does not drain for this long loses messages


def key_pair_from_seed(seed: bytes):
    if len(seed) != 32:
        raise ValueError("identity seed must be 32 bytes")
    return create_new_key_pair(seed)


def peer_id_from_seed(seed: bytes) -> PeerId:
    """The peer id (12D3KooW...) a node with this seed will have."""
    return ID.from_pubkey(key_pair_from_seed(seed).public_key).to_base58()


def _parse_multiaddr(a: str) -> multiaddr.Multiaddr:
    try:
        return multiaddr.Multiaddr(a)
    except Exception as e:  # multiaddr raises several types
        raise ValueError(f"p2p: bad multiaddr: {e}") from None


def multiaddr_protocols(addr: str) -> list[str]:
    """The protocol names of a multiaddr, e.g. ["ip4", "tcp"]; ValueError if it is not one."""
    return [p.name for p in _parse_multiaddr(addr).protocols()]


def check_addresses(listen: str, persistent_peers: list[str], seeds: list[str] = ()) -> None:
    """Raise ValueError unless `listen` is a multiaddr and every persistent peer and seed is
    one that names its peer id (/p2p/<id>), so a config is refused before the node starts."""
    _parse_multiaddr(listen)
    for key, addrs in (("persistent_peers", persistent_peers), ("seeds", seeds)):
        for p in addrs:
            if "/p2p/" not in str(_parse_multiaddr(p)):
                raise ValueError(f"p2p.{key}: {p!r} has no /p2p/<peer id>")


def content_message_id(msg: rpc_pb2.Message) -> bytes:
    """Message id = sha256(topics, data): the same bytes relayed by several peers are
    one message, whoever forwards it (libp2p's default id is sender + seqno)."""
    h = hashlib.sha256()
    for topic in msg.topicIDs:
        h.update(topic.encode())
        h.update(b"\x00")
    h.update(msg.data)
    return h.digest()


def _hosts_of(info: PeerInfo) -> set[str]:
    hosts = set()
    for addr in info.addrs:
        for proto in ("ip4", "ip6", "dns4", "dns6"):
            try:
                hosts.add(addr.value_for_protocol(proto))
            except Exception:  # noqa: BLE001 -- the address has no such part
                continue
    return {h for h in hosts if h}


async def _close_quietly(conn) -> None:
    try:
        await conn.close()
    except Exception:  # noqa: BLE001 -- already broken
        pass


def _caused_by(exc: BaseException, class_name: str) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if type(exc).__name__ == class_name:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class _NoValidationCache:
    """Replaces pubsub's validation cache. It is keyed by message id, so a message we
    refused from one peer for a per-peer reason (rate limit) would stay refused when an
    honest peer relays it. Duplicates are already stopped by the seen-cache before
    validation, so nothing is lost by revalidating."""

    def get(self, msg_id: bytes) -> None:
        return None

    def put(self, msg_id: bytes, result: object) -> None:
        pass

    def clear_expired(self) -> None:
        pass


class _PeerEvents(INotifee):
    def __init__(self, transport: "Libp2pTransport") -> None:
        self.transport = transport

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        # Yamux knows who dialled: only a connection we opened proves a book address.
        outbound = getattr(conn.muxed_conn, "is_initiator_value", False) is True
        self.transport._on_connected(conn.muxed_conn.peer_id, outbound)
        await trio.lowlevel.checkpoint()

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self.transport._on_disconnected(conn.muxed_conn.peer_id)
        await trio.lowlevel.checkpoint()

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        await trio.lowlevel.checkpoint()

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        await trio.lowlevel.checkpoint()

    async def listen(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        await trio.lowlevel.checkpoint()

    async def listen_close(self, network: INetwork, multiaddr: multiaddr.Multiaddr) -> None:
        await trio.lowlevel.checkpoint()


class Libp2pTransport:
    def __init__(self, config: P2PConfig) -> None:
        self.config = config
        self.topics = ChainTopics(config.chain_id)
        self.counters = TransportCounters()
        self.key_pair = key_pair_from_seed(config.identity_seed)
        self.local_id = ID.from_pubkey(self.key_pair.public_key)
        self.local_peer: PeerId = self.local_id.to_base58()
        self._local_bytes = self.local_id.to_bytes()
        self.persistent: list[PeerInfo] = [
            info_from_p2p_addr(multiaddr.Multiaddr(a)) for a in config.persistent_peers
        ]
        self.validators: set[PeerId] = {p.peer_id.to_base58() for p in self.persistent}
        self.validators.update(config.validator_peer_ids)
        # Direct peers: validators list each other, so direct = persistent peers that
        # are validators, when we are one. No validator list: all persistent peers
        # are taken as fellow validators (a testnet that lists everyone). A peer that
        # does not list us back (a full node's validator) is demoted to a mesh peer
        # when it GRAFTs us (_GossipSub), so one-sided peering still carries gossip.
        if not config.validator_peer_ids:
            self.direct = list(self.persistent)
        elif self.local_peer in config.validator_peer_ids:
            self.direct = [p for p in self.persistent if p.peer_id.to_base58() in config.validator_peer_ids]
        else:
            self.direct = []
        self.penalties = PenaltyBook(self.validators, config.ban_threshold, ban_seconds=config.ban_seconds)
        self.limiter = InboundLimiter(config.inbound_msgs_per_s, config.inbound_bytes_per_s)
        self.policy = InboundPolicy(self, self.limiter, max_gossip_size=config.max_gossip_size,
                                    max_request_size=config.max_request_size,
                                    max_response_size=config.max_response_size)
        self._events = EventFanout(self.counters)
        self._connected: dict[ID, PeerId] = {}
        self._ever_connected: set[ID] = set()
        self._names: dict[ID, PeerId] = {}
        self._dialing: set[ID] = set()
        self.dial_backoff = DialBackoff(config.dial_timeout, config.max_dial_timeout)
        self._subscriptions: dict[str, trio.MemorySendChannel[Gossip]] = {}
        self._outbound: dict[str, trio.MemorySendChannel[bytes]] = {}
        self._nursery: trio.Nursery | None = None
        # Peer exchange: persistent peers and seeds start the book; private ids never enter it.
        self.book = PeerBook(self.local_peer, frozenset(config.private_peer_ids))
        self._configured = {addr.rsplit("/p2p/", 1)[1]: addr for addr in (*config.persistent_peers, *config.seeds)}
        for peer, addr in self._configured.items():
            self.book.add(peer, addr)
        self._pex_answered: dict[PeerId, float] = {}
        self._peer_lost = trio.Event()  # wakes a settled PEX loop (_run_pex)

        logging.getLogger("libp2p").setLevel(config.library_log_level)
        # Trap 4: the library's subscription channel holds 32 messages and drops the rest.
        libp2p_pubsub.SUBSCRIPTION_CHANNEL_SIZE = max(libp2p_pubsub.SUBSCRIPTION_CHANNEL_SIZE, config.inbound_queue_size)
        self.host = new_host(
            key_pair=self.key_pair,
            # Trap 8: the default also accepts TLS, secio and plaintext peers.
            sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(self.key_pair, noise_privkey=create_new_x25519_key_pair().private_key)},
            muxer_opt={TProtocol(YAMUX_PROTOCOL_ID): Yamux},
            listen_addrs=[multiaddr.Multiaddr(a) for a in config.listen_addrs],
        )
        self.router = _GossipSub(
            protocols=[PROTOCOL_ID_V11],  # trap 3: v1.2 sends an IDONTWANT per message
            degree=6, degree_low=4, degree_high=12,
            direct_peers=self.direct,
            heartbeat_interval=config.heartbeat_interval,  # trap 12: default 120 s
            # Our supervisor redials persistent peers (with counters and a 0.2 s
            # period); the library's own direct-connect loop is parked.
            direct_connect_initial_delay=10**9,
            direct_connect_interval=10**9,
            do_px=False,
            score_params=ScoreParams(
                p5_behavior_penalty_weight=1.0,
                p5_behavior_penalty_decay=0.98,
                publish_threshold=-50.0,
                gossip_threshold=-20.0,
                graylist_threshold=-80.0,
                accept_px_threshold=0.0,
            ),
            spam_protection_enabled=False,  # trap 1: also throttles our own publishes
            adaptive_gossip_enabled=False,
            eclipse_protection_enabled=False,  # IP diversity means nothing on a validator LAN
        )
        self.router.full_mesh = config.validator_full_mesh
        self.pubsub = _Pubsub(self.host, self.router, msg_id_constructor=content_message_id, strict_signing=True)
        self.pubsub.validation_cache = _NoValidationCache()
        # Seqnos start at unix seconds and +1 per message; a node restarted after
        # publishing faster than 1 msg/s would reuse seqnos and be dropped as an
        # "equivocation". Nanoseconds keep them increasing across restarts.
        self.pubsub.counter = time.time_ns()
        network = self.host.get_network()
        network.register_notifee(_PeerEvents(self))
        # One attempt per dial: the supervisor retries every `redial_interval`, so the
        # swarm's own exponential backoff would only delay a reconnect.
        network.retry_config = RetryConfig(max_retries=0, initial_delay=0.05, max_delay=0.2)
        network.auto_connector = _ParkedAutoConnector(network)
        # Inbound admission is ours (p2p/inbound.py). The library's own cap (250 slots)
        # is taken before the handshake and, once a connection is upgraded, held until
        # the swarm stops (swarm.py: `wait_finished` after the upgrade): sockets that
        # never handshake held one each for 10 s, and every peer ever accepted keeps
        # one. It is made too large to matter; our gate bounds handshakes per address
        # and in all, times them out fast, and reserves room for our own peers.
        self.gate = InboundGate(
            {h for p in self.persistent for h in _hosts_of(p)},
            max_pending=config.max_pending_handshakes, per_host=config.max_handshakes_per_host,
            max_peers=config.max_inbound_peers)
        network.connection_config.inbound_upgrade_timeout = config.handshake_timeout
        network._inbound_limiter = trio.CapacityLimiter(1_000_000)
        self._library_upgrade = network.upgrade_inbound_raw_conn
        network.upgrade_inbound_raw_conn = self._upgrade_inbound
        if config.pex:
            self.set_request_handler(self.topics.protocol(PEX), self._answer_pex)

    # --- identity and peers ---
    def listen_addrs(self) -> list[str]:
        """Actual listen addresses with /p2p/<id> (port 0 resolved)."""
        return [f"{a}/p2p/{self.local_peer}" if "/p2p/" not in str(a) else str(a)
                for a in self.host.get_transport_addrs()]

    def _name(self, peer: ID) -> PeerId:
        name = self._names.get(peer)
        if name is None:
            name = self._names[peer] = peer.to_base58()
        return name

    def peers(self) -> list[PeerId]:
        return sorted(self._connected.values())

    def subscribed_peers(self, topic: str) -> list[PeerId]:
        """Connected peers that told us they subscribe to `topic` (who gets our gossip)."""
        return sorted(self._name(p) for p in self.pubsub.peer_topics.get(topic, ()) if p in self._connected)

    def peer_events(self) -> trio.MemoryReceiveChannel[PeerEvent]:
        return self._events.open()

    def _on_connected(self, peer: ID, outbound: bool = False) -> None:
        name = self._name(peer)
        self.dial_backoff.connected(name)  # also when a dial cut by its timeout completes
        dialled_addr = self.book.addrs.get(name) or self._configured.get(name)
        if outbound and dialled_addr:
            # we dial only book or configured addresses; marked here, not after the dial
            # returns, because a dial cut by its timeout can still complete
            self.book.dialled(name, dialled_addr, True)
        if self.penalties.is_banned(name):
            self.counters.drop("banned_peer_connection")
            self._spawn(self._disconnect, peer)
            return
        if peer in self._connected:
            return
        self._connected[peer] = name
        if peer in self._ever_connected and name in self.validators:
            self.counters.reconnects += 1
        self._ever_connected.add(peer)
        self._events.emit(PeerEvent(name, True))

    def _on_disconnected(self, peer: ID) -> None:
        live = [c for c in self.host.get_network().get_connections(peer)
                if not getattr(getattr(c, "muxed_conn", None), "is_closed", False)]
        if live:
            return  # another connection to this peer is still up
        name = self._connected.pop(peer, None)
        if name is not None:
            self.limiter.forget(name)
            self._peer_lost.set()
            self._events.emit(PeerEvent(name, False))

    def _spawn(self, fn, *args) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(fn, *args)

    async def _disconnect(self, peer: ID) -> None:
        try:
            await self.host.disconnect(peer)
        except Exception as exc:
            log.debug("disconnect %s: %r", peer, exc)

    async def connect(self, addr: str, timeout: float | None = None) -> PeerId:
        """Dial a multiaddr with /p2p/<id> once. Raises RequestError("unreachable")."""
        info = info_from_p2p_addr(multiaddr.Multiaddr(addr))
        with trio.move_on_after(timeout or self.config.dial_timeout):
            try:
                await self.host.connect(info)
                return self._name(info.peer_id)
            except Exception as exc:
                raise RequestError("unreachable", f"{addr}: {type(exc).__name__}: {exc}") from None
        raise RequestError("unreachable", f"{addr}: dial timed out")

    async def _run_redial_supervisor(self) -> None:
        """Trap 10: the library redials a restarted peer after ~65 s. We check every
        `redial_interval` and dial each missing persistent peer in its own task."""
        while True:
            for info in self.persistent:
                if info.peer_id not in self._connected and info.peer_id not in self._dialing:
                    self._dialing.add(info.peer_id)
                    self._spawn(self._dial, info)
            for peer in list(self.pubsub.blacklisted_peers):
                if not self.penalties.is_banned(self._name(peer)):
                    self.pubsub.remove_from_blacklist(peer)
            await trio.sleep(self.config.redial_interval)

    async def _dial(self, info: PeerInfo) -> None:
        network = self.host.get_network()
        # The swarm refuses to dial a peer for 60 s after all its addresses failed
        # once ("negative cache"); a persistent peer must be dialable again at once.
        network.unblock_peer(info.peer_id)
        name = self._name(info.peer_id)
        try:
            # each dial is its own task: a hung one holds back no other peer's attempt
            with trio.move_on_after(self.dial_backoff.timeout(name)) as attempt:
                await self.host.connect(info)
            if attempt.cancelled_caught and info.peer_id not in self._connected:
                self.dial_backoff.timed_out(name)
        except Exception as exc:
            log.debug("dial %s failed: %r", info.peer_id, exc)
        finally:
            self._dialing.discard(info.peer_id)
        if info.peer_id not in self._connected:
            self.counters.dials_failed += 1
            self.book.dialled(name, "", False)

    # --- peer exchange (p2p/pex.py) ---
    async def _answer_pex(self, peer: PeerId, request: bytes) -> bytes:
        if request:
            raise MessageError("bad_request", "a PEX request is empty")
        now = trio.current_time()
        last = self._pex_answered.get(peer)
        if last is not None and now - last < self.config.pex_min_interval:
            raise MessageError("rate_limited", "PEX asked again too soon")
        if len(self._pex_answered) > 4 * self.config.max_inbound_peers:
            self._pex_answered.clear()  # bounded: forgetting only lets a peer ask once more
        self._pex_answered[peer] = now
        return encode_answer(self.book.answer(peer, exclude=self.penalties.banned()))

    async def _run_pex(self) -> None:
        """While fewer than `max_peers` are connected: ask one connected peer (in turn)
        for addresses, then dial known addresses up to the bound; then wait as
        `PexPacer` says (longer while rounds learn nothing, `pex_interval` again after a
        disconnect)."""
        turn = 0
        pacer = PexPacer(self.config.pex_interval, self.config.pex_max_interval)
        while True:
            asked_at = trio.current_time()
            learned, dialled = self.counters.pex_learned, 0
            connected = self.peers()
            if len(connected) < self.config.max_peers:
                if connected:
                    await self._ask_pex(connected[turn % len(connected)])
                    turn += 1
                # dials still in flight count against the bound too
                dialling = [self._name(p) for p in self._dialing]
                room = self.config.max_peers - len(set(self.peers()) | set(dialling))
                for peer, addr in self.book.to_dial(self.peers(), dialling, room):
                    self._spawn(self._dial_learned, peer, addr)
                    dialled += 1
            wait = pacer.after_round(self.counters.pex_learned - learned, dialled)
            with trio.move_on_at(asked_at + wait):
                await self._peer_lost.wait()  # set by a disconnect
            if self._peer_lost.is_set():
                self._peer_lost = trio.Event()
                await trio.sleep_until(asked_at + pacer.peer_lost())  # never sooner than the base period

    async def _ask_pex(self, peer: PeerId) -> None:
        try:
            # read no more than an answer may hold (not the general 8 MiB response cap)
            answer = await self.request(peer, self.topics.protocol(PEX), b"", timeout=self.config.dial_timeout * 5,
                                        max_response_size=MAX_ANSWER_BYTES)
        except RequestError as err:  # a peer without PEX (no_handler), gone, or slow
            log.debug("PEX from %s: %s", peer, err)
            if err.code == "too_large":  # as decode_answer would: an oversized answer is blamed
                self.counters.drop("pex_too_large")
                self.penalise(peer, "too_large")
            return
        try:
            entries = decode_answer(answer)
        except MessageError as err:
            self.counters.drop(f"pex_{err.code}")
            self.penalise(peer, err.code)
            return
        for learned, addr in entries:
            if self.book.add(learned, addr):
                self.counters.pex_learned += 1

    async def _dial_learned(self, peer: PeerId, addr: str) -> None:
        try:
            info = info_from_p2p_addr(multiaddr.Multiaddr(addr))
        except Exception:  # noqa: BLE001 -- base58 but not a peer id
            self.book.forget(peer)
            return
        if info.peer_id in self._dialing or self.penalties.is_banned(peer):
            return
        self._dialing.add(info.peer_id)
        await self._dial(info)

    async def _upgrade_inbound(self, raw_conn, maddr):
        """The library's inbound upgrade (Noise, then Yamux), behind our gate."""
        address = raw_conn.get_remote_address() if hasattr(raw_conn, "get_remote_address") else None
        host = address[0] if address else None
        if not self.gate.open(host):
            self.counters.drop("inbound_handshake_refused")
            await _close_quietly(raw_conn)
            raise ConnectionRefusedError(f"too many handshakes in progress from {host}")
        try:
            muxed = await self._library_upgrade(raw_conn, maddr)
        except BaseException as exc:
            timed_out = "timeout" in str(exc).lower()
            self.counters.drop("inbound_handshake_timeout" if timed_out else "inbound_handshake_failed")
            raise
        finally:
            self.gate.close(host)
        name = self._name(muxed.peer_id)
        others = sum(1 for n in self._connected.values() if n != name and n not in self.validators)
        if not self.gate.keeps_peer(name in self.validators, others):
            self.counters.drop("inbound_peers_full")
            await _close_quietly(muxed)
            raise ConnectionRefusedError("no inbound peer slot left")
        return muxed

    # --- misbehaviour ---
    def penalise(self, peer: PeerId, reason: str) -> None:
        self.counters.penalties[reason] += 1
        if peer in self.validators or peer == self.local_peer:
            return
        try:
            peer_id = ID.from_base58(peer)
        except Exception:
            return
        # Gossipsub's score falls with our points (P5, behaviour penalty): low scores
        # lose mesh slots and gossip first. Scaled so the score's publish gate (-50)
        # is not reached before our ban threshold, which then disconnects the peer.
        self.router.scorer.penalize_behavior(peer_id, POINTS.get(reason, DEFAULT_POINTS) * 40 / self.config.ban_threshold)
        if self.penalties.penalise(peer, reason):
            self.counters.penalties["banned"] += 1
            log.warning("banning peer %s for %.0f s (last reason: %s)", peer, self.config.ban_seconds, reason)
            self.pubsub.add_to_blacklist(peer_id)
            if self._connected.pop(peer_id, None) is not None:
                self._events.emit(PeerEvent(peer, False))
            self._spawn(self._disconnect, peer_id)

    # --- gossip ---
    async def subscribe(self, topic: str, check: GossipCheck | None = None) -> trio.MemoryReceiveChannel[Gossip]:
        kind = self.topics.kind_of_topic(topic)
        if kind is None:
            raise ValueError(f"unknown topic {topic!r} for chain {self.config.chain_id}")
        if topic in self._subscriptions:
            raise ValueError(f"already subscribed to {topic}")
        send, receive = trio.open_memory_channel[Gossip](self.config.inbound_queue_size)
        self._subscriptions[topic] = send
        # Trap 5/6: synchronous validator, wrapped so it can never raise.
        self.pubsub.set_topic_validator(topic, self._make_validator(kind, check), False)
        subscription = await self.pubsub.subscribe(topic)
        self._spawn(self._drain_subscription, subscription, send)
        return receive

    def _make_validator(self, kind: str, check: GossipCheck | None):
        def validate(forwarder: ID, msg: rpc_pb2.Message) -> bool:
            try:
                return self._validate(forwarder, msg, kind, check)
            except Exception as exc:  # never let the library see an exception
                self.counters.drop("validator_error")
                log.warning("validator error: %r", exc)
                return False

        return validate

    def _validate(self, forwarder: ID, msg: rpc_pb2.Message, kind: str, check: GossipCheck | None) -> bool:
        data = msg.data
        if forwarder == self.local_id:
            return True  # our own publish: checked in publish()
        # gossipsub's message id: the originator and its sequence number
        return self.policy.admit_gossip(self._name(forwarder), kind, data, check, msg.from_id + msg.seqno)

    async def _drain_subscription(self, subscription, send: trio.MemorySendChannel[Gossip]) -> None:
        async for msg in subscription:
            if msg.from_id == self._local_bytes:
                continue  # the library hands our own publishes back
            try:
                source = self._name(ID(msg.from_id))
            except Exception:
                self.counters.drop("bad_source")
                continue
            for topic in msg.topicIDs:
                if topic not in self._subscriptions:
                    continue
                try:
                    send.send_nowait(Gossip(topic, source, msg.data))
                except trio.WouldBlock:
                    self.counters.drop("inbound_queue_full")
                    continue
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    continue
                self.counters.messages_in += 1
                self.counters.messages_in_by_kind[self.topics.kind_of_topic(topic)] += 1
                self.counters.bytes_in += len(msg.data)

    async def publish(self, topic: str, payload: bytes) -> bool:
        await trio.lowlevel.checkpoint()
        if len(payload) > self.config.max_gossip_size:
            raise MessageTooLarge(len(payload), self.config.max_gossip_size, "gossip message")
        if self.topics.kind_of_topic(topic) is None:
            raise ValueError(f"unknown topic {topic!r} for chain {self.config.chain_id}")
        queue = self._outbound.get(topic)
        if queue is None:
            queue, receive = trio.open_memory_channel[bytes](self.config.outbound_queue_size)
            self._outbound[topic] = queue
            self._spawn(self._run_sender, topic, receive)
        try:
            queue.send_nowait(bytes(payload))
        except trio.WouldBlock:
            self.counters.drop("outbound_queue_full")
            return False
        return True

    async def publish_unchecked(self, topic: str, payload: bytes) -> None:
        """Publish raw bytes with no size or envelope check. Only for tests that play a
        misbehaving peer (do not subscribe to `topic` first, or our own validator
        refuses the message before it leaves)."""
        await self.pubsub.publish(topic, payload)

    async def _run_sender(self, topic: str, queue: trio.MemoryReceiveChannel[bytes]) -> None:
        async for payload in queue:
            await self._wait_for_peer_queues()
            try:
                await self.pubsub.publish(topic, payload)
            except Exception as exc:
                self.counters.drop("publish_error")
                log.warning("publish on %s failed: %r", topic, exc)
                continue
            self.counters.messages_out += 1
            self.counters.bytes_out += len(payload)

    async def _wait_for_peer_queues(self) -> None:
        """Trap 2: publish() has no backpressure; the library's per-peer queue holds 32
        RPCs and drops the rest. Wait (bounded) until every peer queue has room."""
        start = trio.current_time()
        deadline = start + BACKPRESSURE_MAX_WAIT
        try:
            while True:
                fullest = max((len(q) for q in self.pubsub.peer_queues.values()), default=0)
                if fullest < PEER_QUEUE_HIGH_WATER:
                    return
                if trio.current_time() >= deadline:
                    if fullest >= PEER_QUEUE_LIMIT:
                        self.counters.drop("peer_queue_full")
                    return
                await trio.sleep(0.002)
        finally:
            self.counters.backpressure_ms += int((trio.current_time() - start) * 1000)

    # --- request/response ---
    def set_request_handler(self, protocol: str, handler: RequestHandler) -> None:
        if self.topics.kind_of_protocol(protocol) is None:
            raise ValueError(f"unknown protocol {protocol!r} for chain {self.config.chain_id}")

        async def serve(stream: INetStream) -> None:
            await self._serve(stream, handler)

        self.host.set_stream_handler(TProtocol(protocol), serve)

    async def _serve(self, stream: INetStream, handler: RequestHandler) -> None:
        peer_id = stream.muxed_conn.peer_id
        peer = self._name(peer_id)
        self.counters.requests_in += 1
        try:
            refusal = self.policy.refuse_peer(peer)
            if refusal is not None:
                await self._answer(stream, peer, refusal)
                return
            with trio.move_on_after(self.config.handler_timeout) as scope:
                try:
                    request = await read_varint_prefixed_bytes_limited(stream, self.config.max_request_size)
                    refusal = self.policy.refuse_request(peer, len(request))
                except LibMessageTooLarge:  # the library stopped reading at the limit
                    refusal = self.policy.refuse_request(peer, self.config.max_request_size + 1)
                await self._answer(stream, peer, refusal or await self.policy.serve(peer, handler, request))
            if scope.cancelled_caught:
                self.counters.drop("handler_timeout")
        except Exception as exc:  # a reset stream, a vanished peer: never crash
            self.counters.drop("serve_error")
            log.debug("serving %s failed: %r", peer, exc)
        finally:
            try:
                await stream.close()
            except Exception:
                pass

    async def _respond(self, stream: INetStream, code: str, body: bytes) -> None:
        await stream.write(encode_varint_prefixed(msgpack.packb([code, body], use_bin_type=True)))

    async def _answer(self, stream: INetStream, peer: PeerId, answer: Answer) -> None:
        """Answer, then penalise if the policy says so: the penalty may ban and disconnect
        the peer, which would otherwise never learn why its last request failed."""
        if not answer.penalise:
            await self._respond(stream, answer.code, answer.body)
            return
        try:
            await self._respond(stream, answer.code, answer.body)
            await stream.close()
        finally:
            self.penalise(peer, answer.code)

    async def request(self, peer: PeerId, protocol: str, payload: bytes, timeout: float = 5.0, *,
                      max_response_size: int | None = None) -> bytes:
        """`max_response_size`: a protocol's own, smaller cap on the answer (read no further)."""
        if len(payload) > self.config.max_request_size:
            raise MessageTooLarge(len(payload), self.config.max_request_size, "request")
        try:
            peer_id = ID.from_base58(peer)
        except Exception:
            raise RequestError("unreachable", f"bad peer id {peer!r}") from None
        self.counters.requests_out += 1
        stream = None
        with trio.move_on_after(timeout):
            try:
                stream = await self.host.new_stream(peer_id, [TProtocol(protocol)])
                await stream.write(encode_varint_prefixed(payload))
                limit = self.config.max_response_size + 64 if max_response_size is None else max_response_size
                frame = await read_varint_prefixed_bytes_limited(stream, limit)
            except LibMessageTooLarge:
                raise RequestError("too_large", "response over the size limit") from None
            except RequestError:
                raise
            except Exception as exc:
                if peer_id in self._connected and _caused_by(exc, "MultiselectClientError"):
                    raise RequestError("no_handler", f"{peer} does not serve {protocol}") from None
                raise RequestError("unreachable", f"{type(exc).__name__}: {exc}") from None
            finally:
                if stream is not None:
                    with trio.CancelScope(shield=True), trio.move_on_after(1):
                        try:
                            await stream.close()
                        except Exception:
                            pass
            try:
                code, body = msgpack.unpackb(frame, raw=False, max_array_len=2, max_map_len=0, max_str_len=64)
                if type(code) is not str or type(body) is not bytes:
                    raise ValueError("bad response frame")
            except Exception:
                self.penalise(peer, "malformed")
                raise RequestError("bad_response", "undecodable response frame") from None
            if code != RESPONSE_OK:
                raise RequestError(code, body.decode("utf-8", "replace"))
            return body
        raise RequestError("timeout", f"no response from {peer} within {timeout} s")

    # --- lifecycle ---
    def _close(self) -> None:
        for channel in self._subscriptions.values():
            channel.close()
        for channel in self._outbound.values():
            channel.close()
        self._events.close()


@asynccontextmanager
async def open_libp2p_transport(config: P2PConfig) -> AsyncIterator[Libp2pTransport]:
    """Start the host, pubsub and our supervisors; yield the transport; stop them all."""
    transport = Libp2pTransport(config)
    listen = [multiaddr.Multiaddr(a) for a in config.listen_addrs]
    # Trap 7: enter pubsub and router before host.run(), or shutdown races.
    async with background_trio_service(transport.pubsub):
        async with background_trio_service(transport.router):
            async with transport.host.run(listen):
                await transport.pubsub.wait_until_ready()
                async with trio.open_nursery() as nursery:
                    transport._nursery = nursery
                    nursery.start_soon(transport._run_redial_supervisor)
                    if config.pex:
                        nursery.start_soon(transport._run_pex)
                    try:
                        yield transport
                    finally:
                        transport._nursery = None
                        transport._close()
                        nursery.cancel_scope.cancel()
