"""The genesis ceremony of independent operators (the Cosmos SDK's gentx / collect-gentxs).

One coordinator writes a draft genesis (chain id, time, params) and adds the funded
accounts. Each operator then signs, with their own account key, a `create_validator` tx
(nonce 0, fee 0) bonding stake to their consensus key: the gentx. It carries the node's
moniker, libp2p peer id and p2p address, signed by the same key, so the peer list built
from gentxs is the operators' word. Collecting checks every gentx (schema, chain id,
both signatures, funds in the draft), takes each bond out of its operator's balance and
writes the validators, sorted by operator address, so that anyone who collects the same
gentxs onto the same draft gets the same genesis, byte for byte. The gentxs stay in the
genesis (`gentxs`), so every operator can check each validator against its signed gentx
(`verify_final`) and everyone compares `genesis_hash`.

Gentx files come from other people: each is size-capped before parsing and every field is
type- and length-checked before any work is done on it. The coordinator's draft and the
genesis hash are node/cli/genesis_draft.py.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import msgpack
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey

from node.cli.genesis_draft import GenesisError, draft_balances, draft_field
from node.cli.peer_id import peer_id_from_pubkey
from node.home import make_genesis
from node.keys import KeyPair, encode_address
from state.errors import TxError
from state.params import POWER_REDUCTION
from state.tx import MAX_TX_BYTES, decode_tx, sign_tx, verify_signature

NODE_INFO_DOMAIN = b"attrchain/gentx-node/1"
MAX_GENTX_FILE_BYTES = 16 * 1024
MAX_GENTXS = 1000
MAX_MONIKER = 64
MAX_P2P_ADDR = 256
P2P_ADDRESS_PROTOCOLS = {"ip4", "ip6", "dns", "dns4", "dns6"}


@dataclass(frozen=True)
class Gentx:
    tx: bytes              # signed create_validator, nonce 0, fee 0
    moniker: str
    peer_id: str           # libp2p id of the operator's node (12D3KooW...)
    p2p: str               # where that node listens, e.g. /ip4/10.0.0.2/tcp/26656
    node_signature: bytes  # operator key over node_info_bytes(...)

    def to_json(self) -> dict:
        return {"tx": self.tx.hex(), "moniker": self.moniker, "peer_id": self.peer_id,
                "p2p": self.p2p, "node_signature": self.node_signature.hex()}

    @classmethod
    def from_json(cls, d: object) -> "Gentx":
        if not isinstance(d, dict) or set(d) != {"tx", "moniker", "peer_id", "p2p", "node_signature"}:
            raise GenesisError("a gentx is an object with exactly tx, moniker, peer_id, p2p, node_signature")
        for k in ("tx", "moniker", "peer_id", "p2p", "node_signature"):
            if not isinstance(d[k], str):
                raise GenesisError(f"gentx {k} must be a string")
        return cls(_hex(d["tx"], "tx", 2 * MAX_TX_BYTES), d["moniker"], d["peer_id"], d["p2p"],
                   _hex(d["node_signature"], "node_signature", 128))

    @property
    def multiaddr(self) -> str:
        return f"{self.p2p}/p2p/{self.peer_id}"


@dataclass(frozen=True)
class CheckedGentx:
    gentx: Gentx
    operator: bytes
    consensus_pubkey: bytes
    stake: int


def _hex(text: str, name: str, max_chars: int) -> bytes:
    if len(text) > max_chars:
        raise GenesisError(f"gentx {name}: longer than {max_chars} hex characters")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise GenesisError(f"gentx {name}: not hex") from None


def node_info_bytes(chain_id: str, tx_id: bytes, moniker: str, peer_id: str, p2p: str) -> bytes:
    return msgpack.packb([NODE_INFO_DOMAIN, chain_id, tx_id, moniker, peer_id, p2p], use_bin_type=True)


def check_moniker(moniker: str) -> None:
    if not 0 < len(moniker) <= MAX_MONIKER or not moniker.isprintable():
        raise GenesisError(f"moniker must be 1..{MAX_MONIKER} printable characters")


def check_peer_id(peer_id: str) -> None:
    """An ed25519 libp2p peer id (the only kind our nodes have), in its canonical form."""
    import base58
    try:
        raw = base58.b58decode(peer_id.encode("ascii")) if len(peer_id) <= 64 else b""
    except ValueError:
        raw = b""
    if len(raw) != 38 or peer_id_from_pubkey(raw[6:]) != peer_id:
        raise GenesisError(f"peer_id {peer_id[:64]!r} is not an ed25519 libp2p peer id")


def check_p2p_address(addr: str) -> None:
    """/ip4|ip6|dns*/<host>/tcp/<port>: where other nodes dial this one."""
    from p2p.libp2p_transport import multiaddr_protocols  # libp2p loads only when an address is checked
    if len(addr) > MAX_P2P_ADDR:
        raise GenesisError(f"p2p address longer than {MAX_P2P_ADDR} characters")
    try:
        names = multiaddr_protocols(addr)
    except ValueError:
        raise GenesisError(f"p2p address {addr!r} is not a multiaddr") from None
    if len(names) != 2 or names[0] not in P2P_ADDRESS_PROTOCOLS or names[1] != "tcp":
        raise GenesisError(f"p2p address {addr!r}: want /ip4|ip6|dns/<host>/tcp/<port>")


# --- each operator --------------------------------------------------------------------------
def make_gentx(draft: dict, operator: KeyPair, consensus_pubkey: bytes, stake: int, *,
               moniker: str, peer_id: str, p2p: str) -> Gentx:
    """Sign a genesis create_validator for `operator`, checked against the draft first."""
    chain_id = draft_field(draft, "chain_id")
    check_moniker(moniker)
    check_peer_id(peer_id)
    check_p2p_address(p2p)
    funds = draft_balances(draft).get(operator.address)
    if funds is None:
        raise GenesisError(f"{encode_address(operator.address)} has no genesis account (add-account first)")
    if not POWER_REDUCTION <= stake <= funds:
        raise GenesisError(f"stake must be {POWER_REDUCTION}..{funds} (the account's genesis balance)")
    tx = sign_tx(SigningKey(operator.seed), chain_id, 0, 0, "create_validator", [consensus_pubkey, stake])
    tx_id = hashlib.sha256(tx).digest()
    return Gentx(tx, moniker, peer_id, p2p,
                 operator.sign(node_info_bytes(chain_id, tx_id, moniker, peer_id, p2p)))


def verify_gentx(g: Gentx, chain_id: str) -> CheckedGentx:
    """Both signatures, the tx's kind, chain, nonce and fee; the node info's form."""
    try:
        stx = decode_tx(g.tx)
        if stx.kind != "create_validator":
            raise GenesisError(f"gentx tx is a {stx.kind}, not a create_validator")
        verify_signature(stx)
    except TxError as e:
        raise GenesisError(f"gentx tx: {e}") from None
    if stx.tx.chain_id != chain_id:
        raise GenesisError(f"gentx is for chain {stx.tx.chain_id!r}, not {chain_id!r}")
    if stx.tx.nonce != 0 or stx.tx.fee != 0:
        raise GenesisError("gentx tx must have nonce 0 and fee 0")
    check_moniker(g.moniker)
    check_peer_id(g.peer_id)
    check_p2p_address(g.p2p)
    info = node_info_bytes(chain_id, stx.id, g.moniker, g.peer_id, g.p2p)
    try:
        crypto_sign_open(g.node_signature + info, stx.tx.sender_pubkey)
    except (BadSignatureError, ValueError):
        raise GenesisError("gentx node_signature does not verify under the operator's key") from None
    return CheckedGentx(g, stx.sender, stx.args.consensus_pubkey, stx.args.amount)


def read_gentx_file(path: Path) -> Gentx:
    if not path.is_file():
        raise GenesisError(f"{path.name}: not a regular file")
    with open(path, "rb") as f:
        data = f.read(MAX_GENTX_FILE_BYTES + 1)  # never more, however large the file
    if len(data) > MAX_GENTX_FILE_BYTES:
        raise GenesisError(f"{path.name}: over {MAX_GENTX_FILE_BYTES} bytes")
    try:
        return Gentx.from_json(json.loads(data))
    except GenesisError as e:
        raise GenesisError(f"{path.name}: {e}") from None
    except ValueError as e:
        raise GenesisError(f"{path.name}: not JSON ({e})") from None


def read_gentx_dir(directory: Path) -> list[tuple[str, Gentx]]:
    files = sorted(directory.glob("*.json")) if directory.is_dir() else []
    if not files:
        raise GenesisError(f"no gentx files (*.json) in {directory}")
    if len(files) > MAX_GENTXS:
        raise GenesisError(f"{len(files)} gentx files in {directory}, at most {MAX_GENTXS}")
    return [(f.name, read_gentx_file(f)) for f in files]


# --- collecting -------------------------------------------------------------------------------
def collect(draft: dict, gentxs: list[tuple[str, Gentx]]) -> dict:
    """The final genesis: every gentx verified and paid for from its operator's balance."""
    balances = draft_balances(draft)
    chain_id = draft_field(draft, "chain_id")
    checked: list[CheckedGentx] = []
    for source, g in gentxs:
        try:
            checked.append(verify_gentx(g, chain_id))
        except GenesisError as e:
            raise GenesisError(f"{source}: {e}") from None
    checked.sort(key=lambda c: c.operator)
    for field in ("operator", "consensus_pubkey"):
        values = [getattr(c, field) for c in checked]
        if len(set(values)) != len(values):
            raise GenesisError(f"two gentxs share one {field.replace('_', ' ')}")
    peers = [c.gentx.peer_id for c in checked]
    if len(set(peers)) != len(peers):
        raise GenesisError("two gentxs share one peer id")
    for c in checked:
        funds = balances.get(c.operator)
        if funds is None or funds < c.stake:
            raise GenesisError(f"{c.gentx.moniker}: operator {encode_address(c.operator)} has "
                               f"{funds or 0} in the draft, bonds {c.stake}")
        balances[c.operator] = funds - c.stake
    try:
        doc = make_genesis(chain_id, draft_field(draft, "genesis_time_ms"),
                           [(c.consensus_pubkey, c.operator, c.stake, c.gentx.moniker) for c in checked],
                           sorted(balances.items()), draft.get("params"))
    except (TypeError, ValueError) as e:
        raise GenesisError(f"genesis: {e}") from None
    doc["gentxs"] = [c.gentx.to_json() for c in checked]
    return doc


def verify_final(doc: dict) -> list[CheckedGentx]:
    """A collected genesis is valid and each validator is exactly its signed gentx."""
    from state.genesis import Genesis
    try:
        g = Genesis.from_json(doc)
    except (KeyError, TypeError, ValueError) as e:
        raise GenesisError(f"genesis: {e}") from None
    raw = doc.get("gentxs")
    if not isinstance(raw, list) or len(raw) > MAX_GENTXS:
        raise GenesisError("genesis has no gentxs list (not made by collect-gentxs)")
    checked = [verify_gentx(Gentx.from_json(x), g.chain_id) for x in raw]
    want = [(v.consensus_pubkey, v.operator, v.stake) for v in g.validators]
    if [(c.consensus_pubkey, c.operator, c.stake) for c in checked] != want:
        raise GenesisError("genesis validators differ from its gentxs")
    return checked


def peers_from_gentxs(checked: list[CheckedGentx], own_peer_id: str) -> list[str]:
    return [c.gentx.multiaddr for c in checked if c.gentx.peer_id != own_peer_id]
