"""Transactions: msgpack encoding, ed25519 signing, stateless validation.

Wire format (all msgpack arrays, so the bytes are canonical):

    body   = [chain_id: str, sender_pubkey: bin32, nonce: int, fee: int, kind: str, fields: array]
    signed = [body_bytes: bin, signature: bin64]      signature = ed25519(sender, body_bytes)
    tx id  = sha256(signed bytes)

`decode_tx` checks the encoding and every field against the kind's schema in `KINDS`
(types, ranges, list caps, size cap) and returns a `SignedTx` whose `args` is a named
tuple of typed fields. `validate_basic` adds the policy checks that need only the chain's
parameters (chain id, minimum fee). `verify_signature` is separate because it is the
costliest step: a node verifies each tx once, at admission, and reuses the result.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import msgpack
from nacl.bindings import crypto_sign_open
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey

from state.errors import Code, TxError

# --- protocol constants (stateless caps; economic parameters live in state/params.py) --
MAX_TX_BYTES = 4096
MAX_AMOUNT = 2**63 - 1            # amounts are 0 <= amount < 2**63
PPM = 1_000_000                   # parts per million: 100 %
TOTAL_SHARES = 1_000_000          # every asset has a share table of 1,000,000 shares
MAX_NAME_BYTES = 64
MAX_URI_BYTES = 256
MAX_CHAIN_ID_BYTES = 64
MAX_SOURCES = 16                  # Story Protocol's cap on parents
MAX_CURATORS = 16
MAX_VOTE_BYTES = 512
ID_LEN = 32                       # asset ids, content hashes: sha256 digests
MAX_SCORES = 32                   # contributions one attestation may name
MAX_ALGORITHM_BYTES = 32
ADDRESS_LEN = 20
PUBKEY_LEN = 32
SIGNATURE_LEN = 64

_hash = hashlib.sha256


# --- field types: each checks and converts one decoded msgpack value; the public ones
# are the schema's vocabulary, which clients map to their own parsers (node/cli/client_commands.py)
FieldCheck = Callable[[str, Any], Any]


def _int_in(lo: int, hi: int, code: Code = Code.OUT_OF_RANGE) -> FieldCheck:
    def check(name: str, v: Any) -> int:
        if type(v) is not int:                       # bool is an int subclass: refuse it
            raise TxError(Code.WRONG_TYPE, f"{name} must be an integer")
        if not lo <= v <= hi:
            raise TxError(code, f"{name}={v} outside [{lo}, {hi}]")
        return v
    return check


def _nonzero_amount(code: Code, what: str) -> FieldCheck:
    def check(name: str, v: Any) -> int:
        v = amount(name, v)
        if v == 0:
            raise TxError(code, f"{name} must be {what}")
        return v
    return check


_positive_amount = _nonzero_amount(Code.ZERO_AMOUNT, "positive")
_order_price = _nonzero_amount(Code.ORDER_PRICE_ZERO, "at least 1 uopen per share")


def _bytes_of(length: int) -> FieldCheck:
    def check(name: str, v: Any) -> bytes:
        if type(v) is not bytes:
            raise TxError(Code.WRONG_TYPE, f"{name} must be bytes")
        if len(v) != length:
            code = Code.BAD_ADDRESS if length == ADDRESS_LEN else (
                Code.BAD_PUBKEY if name.endswith("pubkey") else Code.OUT_OF_RANGE)
            raise TxError(code, f"{name} must be {length} bytes, got {len(v)}")
        return v
    return check


def _text(min_len: int, max_len: int) -> FieldCheck:
    def check(name: str, v: Any) -> str:
        if type(v) is not str:
            raise TxError(Code.WRONG_TYPE, f"{name} must be a string")
        n = len(v.encode())
        if n > max_len:
            raise TxError(Code.STRING_TOO_LONG, f"{name} is {n} bytes, at most {max_len}")
        if n < min_len:
            raise TxError(Code.OUT_OF_RANGE, f"{name} must be at least {min_len} byte(s)")
        return v
    return check


def boolean(name: str, v: Any) -> bool:
    if type(v) is not bool:
        raise TxError(Code.WRONG_TYPE, f"{name} must be a boolean")
    return v


def _blob(max_len: int) -> FieldCheck:
    def check(name: str, v: Any) -> bytes:
        if type(v) is not bytes:
            raise TxError(Code.WRONG_TYPE, f"{name} must be bytes")
        if not 0 < len(v) <= max_len:
            raise TxError(Code.OUT_OF_RANGE, f"{name} must be 1..{max_len} bytes")
        return v
    return check


amount = _int_in(0, MAX_AMOUNT)
ppm = _int_in(0, PPM)
weight = _int_in(1, PPM)
shares = _int_in(1, TOTAL_SHARES)
_order_shares = _int_in(1, TOTAL_SHARES, Code.ORDER_SHARES_OUT_OF_RANGE)
address = _bytes_of(ADDRESS_LEN)
asset_id = _bytes_of(ID_LEN)
pubkey = _bytes_of(PUBKEY_LEN)
name_text = _text(1, MAX_NAME_BYTES)
_chain_id_text = _text(1, MAX_CHAIN_ID_BYTES)
uri_text = _text(0, MAX_URI_BYTES)


def curator_list(name: str, v: Any) -> tuple[bytes, ...]:
    if type(v) is not list:
        raise TxError(Code.WRONG_TYPE, f"{name} must be a list of addresses")
    if len(v) > MAX_CURATORS:
        raise TxError(Code.TOO_MANY_ITEMS, f"{name} has {len(v)} entries, at most {MAX_CURATORS}")
    out = tuple(address(f"{name}[{i}]", a) for i, a in enumerate(v))
    if len(set(out)) != len(out):
        raise TxError(Code.DUPLICATE_ITEM, f"{name} lists an address twice")
    return out


def _ppm_table(max_items: int, item: str, article: str, value: str, over_code: Code) -> FieldCheck:
    """Up to `max_items` distinct [id, value_ppm] pairs, values 1..1e6 summing to <= 1e6."""
    def check(name: str, v: Any) -> tuple[tuple[bytes, int], ...]:
        if type(v) is not list:
            raise TxError(Code.WRONG_TYPE, f"{name} must be a list of [{item}, {value}_ppm]")
        if len(v) > max_items:
            raise TxError(Code.TOO_MANY_ITEMS, f"{name} has {len(v)} entries, at most {max_items}")
        out = []
        for i, pair in enumerate(v):
            if type(pair) is not list or len(pair) != 2:
                raise TxError(Code.WRONG_TYPE, f"{name}[{i}] must be [{item}, {value}_ppm]")
            out.append((asset_id(f"{name}[{i}].{item}", pair[0]), weight(f"{name}[{i}].{value}_ppm", pair[1])))
        if len({a for a, _ in out}) != len(out):
            raise TxError(Code.DUPLICATE_ITEM, f"{name} lists {article} {item} twice")
        total = sum(w for _, w in out)
        if total > PPM:
            raise TxError(over_code, f"{name} {value}s sum to {total} > {PPM}")
        return tuple(out)
    return check


# a model's or agent's edges; an attestation's measured shares (state/poa.py)
source_weights = _ppm_table(MAX_SOURCES, "asset", "an", "weight", Code.WEIGHTS_EXCEED_TOTAL)
contribution_scores = _ppm_table(MAX_SCORES, "contribution", "a", "score", Code.SCORES_EXCEED_TOTAL)


algorithm_text = _text(1, MAX_ALGORITHM_BYTES)


def order_side(name: str, v: Any) -> str:
    if type(v) is not str:
        raise TxError(Code.WRONG_TYPE, f"{name} must be a string")
    if v not in ("buy", "sell"):
        raise TxError(Code.OUT_OF_RANGE, f"{name} must be 'buy' or 'sell'")
    return v


def encoded_vote(name: str, v: Any) -> bytes:
    # Decoded and checked against consensus rules in validate_evidence_fields below.
    return _blob(MAX_VOTE_BYTES)(name, v)


# --- the schema table: every kind in LEDGER.md -------------------------------------
@dataclass(frozen=True)
class KindSchema:
    kind: str
    fields: tuple[tuple[str, FieldCheck], ...]
    args_type: type


def _schema(kind: str, *fields: tuple[str, FieldCheck]) -> KindSchema:
    args_type = NamedTuple(f"{kind.title().replace('_', '')}Args", [(n, Any) for n, _ in fields])
    return KindSchema(kind, tuple(fields), args_type)


KINDS: dict[str, KindSchema] = {s.kind: s for s in (
    _schema("transfer", ("to", address), ("amount", _positive_amount)),
    _schema("create_validator", ("consensus_pubkey", pubkey), ("amount", _positive_amount)),
    _schema("stake", ("amount", _positive_amount)),
    _schema("unstake", ("amount", _positive_amount)),
    _schema("unjail"),
    _schema("evidence", ("vote_a", encoded_vote), ("vote_b", encoded_vote)),
    _schema("create_datanet", ("name", name_text), ("metadata_uri", uri_text),
            ("contributor_share_ppm", ppm), ("contribution_bond", amount),
            ("curators", curator_list)),
    _schema("contribute", ("datanet", asset_id), ("content_hash", asset_id),
            ("size", amount), ("metadata_uri", uri_text)),
    _schema("review", ("contribution", asset_id), ("accept", boolean), ("weight", ppm)),
    _schema("register_model", ("name", name_text), ("metadata_uri", uri_text),
            ("price", amount), ("sources", source_weights)),
    _schema("register_agent", ("name", name_text), ("metadata_uri", uri_text),
            ("price", amount), ("sources", source_weights)),
    _schema("use", ("asset", asset_id), ("max_price", amount)),
    _schema("set_price", ("asset", asset_id), ("price", amount)),
    _schema("transfer_shares", ("asset", asset_id), ("to", address), ("shares", shares)),
    _schema("claim", ("asset", asset_id)),
    _schema("place_order", ("asset", asset_id), ("side", order_side), ("shares", _order_shares),
            ("price", _order_price), ("expires_at", amount)),
    _schema("cancel_order", ("order", asset_id)),
    _schema("set_attributor", ("model", asset_id), ("operator", address)),
    _schema("attest", ("use", asset_id), ("datanet", asset_id), ("output_hash", asset_id),
            ("algorithm", algorithm_text), ("scores", contribution_scores)),
    _schema("challenge", ("attestation", asset_id), ("bond", _positive_amount)),
    _schema("resolve", ("attestation", asset_id), ("upheld", boolean)),
)}


def _check_kind_rules(kind: str, args: Any, sender: bytes) -> None:
    """Cross-field stateless rules of a kind."""
    if kind == "review":
        if args.accept and args.weight == 0:
            raise TxError(Code.OUT_OF_RANGE, "an accepting review needs weight 1..1,000,000")
        if not args.accept and args.weight != 0:
            raise TxError(Code.OUT_OF_RANGE, "a rejecting review must have weight 0")
    elif kind == "transfer" and args.to == sender:
        raise TxError(Code.SELF_REFERENCE, "transfer to oneself")
    elif kind == "transfer_shares" and args.to == sender:
        raise TxError(Code.SELF_REFERENCE, "transfer_shares to oneself")
    elif kind == "evidence":
        validate_evidence_votes(args.vote_a, args.vote_b)


def validate_evidence_votes(vote_a: bytes, vote_b: bytes):
    """Stateless shape of duplicate-vote evidence: both decode, same validator, height,
    round and type, different values. Signatures are checked statefully (key at height)."""
    from consensus.types import DuplicateVoteEvidence, Vote  # state may import consensus
    try:
        a, b = Vote.decode(vote_a), Vote.decode(vote_b)
    except (ValueError, TypeError, KeyError) as e:
        raise TxError(Code.INVALID_EVIDENCE, f"vote does not decode: {e}") from None
    if (a.validator, a.height, a.round, a.type) != (b.validator, b.height, b.round, b.type):
        raise TxError(Code.INVALID_EVIDENCE, "votes differ in validator, height, round or type")
    if a.value_id == b.value_id:
        raise TxError(Code.INVALID_EVIDENCE, "votes are for the same value: no equivocation")
    return DuplicateVoteEvidence.of(a, b)


# --- the transaction ----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Tx:
    """The signed body of a transaction."""
    chain_id: str
    sender_pubkey: bytes
    nonce: int
    fee: int
    kind: str
    fields: tuple

    def encode(self) -> bytes:
        return msgpack.packb([self.chain_id, self.sender_pubkey, self.nonce, self.fee,
                              self.kind, list(self.fields)], use_bin_type=True)


@dataclass(frozen=True, slots=True)
class SignedTx:
    """A decoded, schema-checked transaction (signature NOT yet verified)."""
    tx: Tx
    args: Any                 # the kind's named tuple of typed fields
    body_bytes: bytes
    signature: bytes
    raw: bytes                # the exact signed bytes
    id: bytes                 # sha256(raw)
    sender: bytes             # 20-byte address of tx.sender_pubkey

    @property
    def kind(self) -> str:
        return self.tx.kind


def tx_id(signed_bytes: bytes) -> bytes:
    return _hash(signed_bytes).digest()


def _normalise(v: Any) -> Any:
    """Turn the tuples of typed args back into the lists msgpack encodes."""
    if isinstance(v, tuple):
        return [_normalise(x) for x in v]
    return v


def sign_tx(key: SigningKey, chain_id: str, nonce: int, fee: int, kind: str,
            fields: list | tuple) -> bytes:
    """Encode and sign a transaction; returns the signed bytes to broadcast."""
    body = Tx(chain_id, bytes(key.verify_key), nonce, fee, kind,
              tuple(_normalise(f) for f in fields)).encode()
    return encode_signed(body, key.sign(body).signature)


def encode_signed(body_bytes: bytes, signature: bytes) -> bytes:
    return msgpack.packb([body_bytes, signature], use_bin_type=True)


def decode_tx(raw: bytes, max_bytes: int = MAX_TX_BYTES) -> SignedTx:
    """Decode signed bytes and check every field's type and range against the kind's schema.

    Raises TxError naming the first problem found. Does not verify the signature."""
    if type(raw) is not bytes:
        raise TxError(Code.MALFORMED_ENCODING, "transaction must be bytes")
    if len(raw) > max_bytes:
        raise TxError(Code.TX_TOO_LARGE, f"transaction is {len(raw)} bytes, at most {max_bytes}")
    split = _split_canonical(raw)
    if split is not None:
        body_bytes, signature = split
        try:
            body = msgpack.unpackb(body_bytes, raw=False, strict_map_key=True)
        except Exception as e:
            raise TxError(Code.MALFORMED_ENCODING, f"body is not valid msgpack: {type(e).__name__}") from None
        return _decode_body(raw, body_bytes, signature, body)
    return _decode_slow(raw)


def _split_canonical(raw: bytes) -> tuple[bytes, bytes] | None:
    """(body, signature) if `raw` is exactly the canonical encoding of [bin, bin64], else
    None (then the slow path names what is wrong). Saves unpacking and re-packing."""
    if len(raw) < 70 or raw[0] != 0x92:
        return None
    tag = raw[1]
    if tag == 0xC4:
        n, start = raw[2], 3
    elif tag == 0xC5:
        n, start = int.from_bytes(raw[2:4], "big"), 4
        if n < 256:
            return None
    else:
        return None
    end = start + n
    if len(raw) != end + 66 or raw[end] != 0xC4 or raw[end + 1] != 64:
        return None
    return raw[start:end], raw[end + 2:]


def _decode_slow(raw: bytes) -> SignedTx:
    try:
        outer = msgpack.unpackb(raw, raw=False, strict_map_key=True)
        if type(outer) is not list or len(outer) != 2:
            raise TxError(Code.MALFORMED_ENCODING, "signed tx must be [body, signature]")
        body_bytes, signature = outer
        if type(body_bytes) is not bytes or type(signature) is not bytes:
            raise TxError(Code.MALFORMED_ENCODING, "body and signature must be bytes")
        body = msgpack.unpackb(body_bytes, raw=False, strict_map_key=True)
    except TxError:
        raise
    except Exception as e:  # msgpack raises many types (ExtraData, ValueError, UnicodeDecodeError)
        raise TxError(Code.MALFORMED_ENCODING, f"not valid msgpack: {type(e).__name__}") from None
    if len(signature) != SIGNATURE_LEN:
        raise TxError(Code.BAD_SIGNATURE, f"signature must be {SIGNATURE_LEN} bytes")
    if msgpack.packb(outer, use_bin_type=True) != raw:
        raise TxError(Code.MALFORMED_ENCODING, "signed tx is not in canonical encoding")
    return _decode_body(raw, body_bytes, signature, body)


def _decode_body(raw: bytes, body_bytes: bytes, signature: bytes, body: Any) -> SignedTx:
    if type(body) is not list or len(body) != 6:
        raise TxError(Code.MALFORMED_ENCODING,
                      "body must be [chain_id, sender_pubkey, nonce, fee, kind, fields]")
    chain_id, sender_pubkey, nonce, fee, kind, fields = body
    _chain_id_text("chain_id", chain_id)
    pubkey("sender_pubkey", sender_pubkey)
    amount("nonce", nonce)
    amount("fee", fee)
    if type(kind) is not str:
        raise TxError(Code.WRONG_TYPE, "kind must be a string")
    schema = KINDS.get(kind)
    if schema is None:
        raise TxError(Code.UNKNOWN_KIND, f"unknown kind {kind[:40]!r}")
    if type(fields) is not list:
        raise TxError(Code.WRONG_TYPE, "fields must be an array")
    spec = schema.fields
    if len(fields) < len(spec):
        raise TxError(Code.MISSING_FIELD, f"{kind} needs field {spec[len(fields)][0]!r}")
    if len(fields) > len(spec):
        raise TxError(Code.EXTRA_FIELD, f"{kind} takes {len(spec)} field(s), got {len(fields)}")
    args = schema.args_type(*[check(name, v) for (name, check), v in zip(spec, fields)])
    sender = _hash(sender_pubkey).digest()[:ADDRESS_LEN]
    _check_kind_rules(kind, args, sender)
    tx = Tx(chain_id, sender_pubkey, nonce, fee, kind, tuple(fields))
    return SignedTx(tx, args, body_bytes, signature, raw, _hash(raw).digest(), sender)


def validate_basic(stx: SignedTx, chain_id: str, min_fee: int) -> None:
    """Stateless policy checks that need the chain's parameters (not its state)."""
    if stx.tx.chain_id != chain_id:
        raise TxError(Code.WRONG_CHAIN_ID, f"tx is for chain {stx.tx.chain_id!r}, this is {chain_id!r}")
    if stx.tx.fee < min_fee:
        raise TxError(Code.FEE_TOO_LOW, f"fee {stx.tx.fee} below min_fee {min_fee}")


def verify_signature(stx: SignedTx) -> None:
    """Raise TxError(BAD_SIGNATURE) unless the signature covers the body under the sender key."""
    try:
        crypto_sign_open(stx.signature + stx.body_bytes, stx.tx.sender_pubkey)
    except (BadSignatureError, ValueError):
        raise TxError(Code.BAD_SIGNATURE, "signature does not verify under the sender's key") from None
