"""The libp2p peer id of an ed25519 node key, computed without importing libp2p.

Peer id = base58btc(multihash identity(protobuf PublicKey{Type: Ed25519, Data: pub})),
which is the `12D3KooW...` form. Used to write `persistent_peers` into testnet configs.
"""
from __future__ import annotations

import base58

from node.keys import KeyPair


def peer_id_from_pubkey(pub: bytes) -> str:
    proto = b"\x08\x01\x12\x20" + pub          # KeyType=Ed25519(1), Data=32 bytes
    return base58.b58encode(b"\x00" + bytes([len(proto)]) + proto).decode()


def peer_id(key: KeyPair) -> str:
    return peer_id_from_pubkey(key.pub_key)
