"""Fuzzing of everything an RPC client can send: `fuzz_rpc(n, seed)`.

Each target takes a seeded mutation of a well-formed or known-hostile input and must end
in a result or a 4xx `RpcError` (`ValueError` for the shared number parser); anything else
-- another exception, a 5xx, a refusal that is not JSON -- is counted as unexpected and a
few are kept as examples. Targets: the query-parameter parsers, the JSON body parser and
the two body shapes, the Origin/Host policy, the body reader (chunked, size-capped), and
whole requests through the ASGI app in process (httpx's ASGI transport, no sockets).
"""
from __future__ import annotations

import random
import time
from typing import Any, Callable

import httpx
import trio

from node.keys import encode_address
from node.runtime.metrics import NodeMetrics
from node.numbers import parse_uint
from node.rpc import make_app
from node.rpc.rpc_origin import OriginPolicy
from node.rpc.rpc_params import (MAX_JSON_DEPTH, MAX_KEY_BYTES, RpcError, address_param, height_param, hex_param,
                             key_param, parse_json, read_body, timeout_param, tx_from_doc, txs_from_doc)

MAX_EXAMPLES = 5
MAX_INPUT_CHARS = 100_000
BATCH = 2000            # inputs per trio.run (the async targets run inside it)
WEIGHTS = {"uint": 10, "height": 10, "timeout_ms": 10, "hex": 10, "id": 5, "key": 5, "address": 10,
           "json_body": 10, "origin": 10,
           "read_body": 2, "app_request": 1}  # whole requests cost ~100x a parser call

ODD_CHARS = ("\u00b2", "\u0663", "\uff11", "\u2167", "_", "-", "+", " ", "\n", "\x00", "e", ".", "x",
             "\ud800", "\u202e", "[", "]", "{", "}", '"', "\\", ",", ":", "0", "9", "a", "F")
NUMBERS = ("1", "42", "600000", "600001", "0", "-1", "9223372036854775807", "9223372036854775808",
           "999999999999999999", "1000000000000000000", "\u00b2", "\u0661\u0662", "1_000", " 7", "7 ",
           "0x10", "1e3", "+5", "", "00000000000000000001")
HEXES = ("ab", "0xab", "AB" * 32, "ab" * 33, "zz", "a", "0x", "", "ab cd", "\u0663\u0663", "ab" * 2048)
ADDRESSES = (encode_address(b"\x07" * 20), "0x" + "ab" * 20, "ab" * 20, "open1", "open1qqqq",
             encode_address(b"\x07" * 20).upper(), "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", " " * 3)
BODIES = ('{"tx": "abcd"}', '{"txs": ["ab", "cd"]}', '{"txs": []}', '{"tx": 5}', '[1, 2]', "null",
          '{"tx": "ab", "tx": "cd"}', '{"txs": "ab"}', '"\\ud800"', "NaN", "1e999", "[" * 40 + "]" * 40,
          '{"a": "[[[[[[[[[[[[[[[[[[[[["}', '{"tx": "\\\\"}', "{" * 2000, "9" * 5000)
ORIGINS = (None, "https://evil.example", "null", "http://127.0.0.1:26657", "https://wallet.example",
           "https://wallet.example/", "HTTPS://WALLET.EXAMPLE")
HOSTS = (None, "127.0.0.1:26657", "localhost", "[::1]:26657", "evil.example", "wallet.example:443",
         "[", "", "256.1.1.1", "xn--e1afmkfd", "127.0.0.1:notaport")
PATHS = ("/block", "/commit", "/validators", "/query/account", "/query/key", "/tx", "/status",
         "/broadcast_tx_sync", "/broadcast_tx_commit", "/broadcast_txs_sync", "/query/nope", "/openapi.json")


class Unexpected(Exception):
    pass


def mutate(rng: random.Random, text: str, pool: tuple[str, ...]) -> str:
    """`text` with one to three random edits, some of them growing it a lot."""
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(7)
        i = rng.randint(0, len(text))
        if op == 0:
            text = text[:i] + rng.choice(ODD_CHARS) + text[i:]
        elif op == 1 and text:
            text = text[:i] + text[i + 1:]
        elif op == 2:
            text = text + rng.choice(pool)
        elif op == 3:
            text = (text * rng.choice((2, 16, 1000)))[:MAX_INPUT_CHARS]
        elif op == 4:
            text = "".join(chr(rng.randrange(0x30000)) for _ in range(rng.randint(0, 12)))
        elif op == 5:
            text = text[:i]
        else:
            text = rng.choice(pool)
    return text


def body_bytes(rng: random.Random) -> bytes:
    raw = mutate(rng, rng.choice(BODIES), BODIES).encode("utf-8", "surrogatepass")
    if rng.randrange(8) == 0 and raw:
        i = rng.randrange(len(raw))
        raw = raw[:i] + bytes([rng.randrange(256)]) + raw[i + 1:]
    return raw


def client_error(call: Callable[[], Any]) -> Any:
    """Run one parser call; a 4xx RpcError is an answer, anything else escapes."""
    try:
        return call()
    except RpcError as e:
        if not 400 <= e.status < 500 or not e.code or not e.reason:
            raise Unexpected(f"RpcError {e.status} {e.code!r}") from None
        return e


def check_uint(text: str) -> None:
    try:
        v = parse_uint(text, "x")
    except ValueError:
        return
    if not (text.isascii() and text.isdigit() and 0 <= v < 2**63):
        raise Unexpected(f"accepted {text[:40]!r} as {v}")


def check_height(text: str) -> None:
    v = client_error(lambda: height_param(text))
    if isinstance(v, int) and not (1 <= v < 10**18 and text.isascii()):
        raise Unexpected(f"height {text[:40]!r} -> {v}")


def check_timeout(text: str) -> None:
    v = client_error(lambda: timeout_param(text, 10_000))
    if isinstance(v, float) and not 0 < v <= 600:
        raise Unexpected(f"timeout {text[:40]!r} -> {v}")


def check_hex(text: str) -> None:
    v = client_error(lambda: hex_param("tx", text, None))
    if isinstance(v, bytes) and v.hex() != text.removeprefix("0x").lower():
        raise Unexpected(f"hex {text[:40]!r} -> {v[:20]!r}")


def check_sized(call: Callable[[], Any], lo: int, hi: int, what: str) -> None:
    v = client_error(call)
    if isinstance(v, bytes) and not lo <= len(v) <= hi:
        raise Unexpected(f"{what} of {len(v)} bytes")


def check_body(raw: bytes) -> None:
    doc = client_error(lambda: parse_json(raw))
    if isinstance(doc, RpcError):
        return
    client_error(lambda: tx_from_doc(doc))
    txs = client_error(lambda: txs_from_doc(doc, 1000))
    if isinstance(txs, list) and len(txs) > 1000:
        raise Unexpected("txs cap not enforced")


def check_origin(pair: tuple[str | None, str | None]) -> None:
    for policy in (OriginPolicy(), OriginPolicy(["https://wallet.example"])):
        why = policy.refusal(*pair)
        if why is not None and not isinstance(why, str):
            raise Unexpected(f"refusal {why!r}")


async def check_read_body(case: tuple[list[bytes], str | None, int]) -> None:
    chunks, declared, max_bytes = case

    async def stream():
        for c in chunks:
            yield c
    got = await read_body_answer(stream(), declared, max_bytes)
    if isinstance(got, bytes) and (len(got) > max_bytes or got != b"".join(chunks)):
        raise Unexpected(f"read_body gave {len(got)} bytes (max {max_bytes})")


async def read_body_answer(stream, declared: str | None, max_bytes: int) -> Any:
    try:
        return await read_body(stream, declared, max_bytes, 5.0)
    except RpcError as e:
        if e.status not in (400, 408, 413):
            raise Unexpected(f"read_body RpcError {e.status}") from None
        return e


class FuzzBackend:
    """Answers every call with what it was given: the app's parsing is under test."""

    def __init__(self) -> None:
        self.metrics = NodeMetrics()

    async def status(self) -> dict:
        return {}

    async def broadcast_tx_sync(self, raw: bytes) -> dict:
        return {"hash": raw[:32].hex(), "code": 0, "log": ""}

    async def broadcast_tx_commit(self, raw: bytes, timeout_s: float) -> dict:
        return {"hash": raw[:32].hex(), "timeout_s": timeout_s}

    async def tx(self, tx_id: bytes) -> dict:
        return {"hash": tx_id.hex()}

    async def block(self, height: int | None) -> dict:
        return {"height": height}

    commit = validators = block

    async def query(self, kind: str, params: dict, height: int | None) -> dict:
        """Parses its parameter as NodeRpc.query does."""
        value = next(iter(params.values()))
        parse = {"account": address_param, "earnings": address_param, "key": key_param}.get(
            kind, lambda v: hex_param("id", v, 32))
        return {"kind": kind, "height": height, "value": parse(value).hex()}


def request_case(rng: random.Random) -> dict:
    params = {name: mutate(rng, rng.choice(pool), pool) for name, pool in
              (("height", NUMBERS), ("timeout_ms", NUMBERS), ("tx", HEXES), ("hash", HEXES),
               ("address", ADDRESSES), ("id", HEXES), ("key", HEXES)) if rng.randrange(2)}
    headers = {k: v for k, v in (("origin", rng.choice(ORIGINS)), ("host", rng.choice(HOSTS))) if v is not None}
    method = rng.choice(("GET", "POST", "POST", "PUT"))
    return {"method": method, "path": rng.choice(PATHS), "params": params, "headers": headers,
            "content": body_bytes(rng) if method != "GET" else None}


def is_error_doc(r: httpx.Response) -> bool:
    try:
        return isinstance(r.json()["error"]["code"], str)
    except (ValueError, KeyError, TypeError):
        return False


async def check_requests(cases: list[dict], app) -> list[tuple[dict, str]]:
    failures = []
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:26657") as c:
        for case in cases:
            try:
                r = await c.request(case["method"], case["path"], params=case["params"],
                                    headers={k: v.encode("utf-8", "surrogatepass") for k, v in case["headers"].items()},
                                    content=case["content"])
            except (httpx.InvalidURL, UnicodeEncodeError, httpx.LocalProtocolError):
                continue  # a request no HTTP client could send
            if r.status_code >= 500 or (r.status_code >= 400 and not is_error_doc(r)):
                failures.append((case, f"HTTP {r.status_code}: {r.text[:200]}"))
    return failures


SYNC_TARGETS: dict[str, tuple[Callable[[random.Random], Any], Callable[[Any], None]]] = {
    "uint": (lambda rng: mutate(rng, rng.choice(NUMBERS), NUMBERS), check_uint),
    "height": (lambda rng: mutate(rng, rng.choice(NUMBERS), NUMBERS), check_height),
    "timeout_ms": (lambda rng: mutate(rng, rng.choice(NUMBERS), NUMBERS), check_timeout),
    "hex": (lambda rng: mutate(rng, rng.choice(HEXES), HEXES), check_hex),
    "id": (lambda rng: mutate(rng, rng.choice(HEXES), HEXES), lambda t: check_sized(lambda: hex_param("id", t, 32), 32, 32, "id")),
    "key": (lambda rng: mutate(rng, rng.choice(HEXES), HEXES), lambda t: check_sized(lambda: key_param(t), 1, MAX_KEY_BYTES, "key")),
    "address": (lambda rng: mutate(rng, rng.choice(ADDRESSES), ADDRESSES),
                lambda t: check_sized(lambda: address_param(t), 20, 20, "address")),
    "json_body": (body_bytes, check_body),
    "origin": (lambda rng: (rng.choice(ORIGINS) and mutate(rng, rng.choice(ORIGINS[1:]), ORIGINS[1:]),
                            rng.choice(HOSTS) and mutate(rng, rng.choice(HOSTS[1:]), HOSTS[1:])), check_origin),
}


def read_body_case(rng: random.Random) -> tuple[list[bytes], str | None, int]:
    chunks = [body_bytes(rng)[:rng.choice((0, 10, 4096, 100_000))] for _ in range(rng.randint(0, 4))]
    declared = rng.choice((None, str(sum(map(len, chunks))), mutate(rng, rng.choice(NUMBERS), NUMBERS)))
    return chunks, declared, rng.choice((1, 100, 65_536))


def fuzz_rpc(n: int, seed: int = 0) -> dict:
    """Run `n` fuzz inputs over the RPC targets; {"inputs", "unexpected", "examples",
    "targets": {name: inputs}, "seconds", "inputs_per_s"}."""
    rng = random.Random(seed)
    counts = dict.fromkeys(WEIGHTS, 0)
    examples: list[dict] = []
    unexpected = 0
    app = make_app(FuzzBackend(), max_body_bytes=65_536, max_batch_txs=1000,
                   allowed_origins=["https://wallet.example"])

    def note(target: str, case: Any, error: str) -> None:
        nonlocal unexpected
        unexpected += 1
        if len(examples) < MAX_EXAMPLES:
            examples.append({"target": target, "input": repr(case)[:300], "error": error[:300]})

    async def run_async(bodies: list, requests: list) -> None:
        for case in bodies:
            try:
                await check_read_body(case)
            except Exception as e:  # noqa: BLE001 -- what the fuzzer is for
                note("read_body", case, f"{type(e).__name__}: {e}")
        for case, error in await check_requests(requests, app):
            note("app_request", case, error)

    started = time.perf_counter()
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    done = 0
    while done < n:
        batch = min(BATCH, n - done)
        bodies, requests = [], []
        for kind in rng.choices(kinds, weights, k=batch):
            counts[kind] += 1
            if kind == "app_request":
                requests.append(request_case(rng))
            elif kind == "read_body":
                bodies.append(read_body_case(rng))
            else:
                gen, check = SYNC_TARGETS[kind]
                case = gen(rng)
                try:
                    check(case)
                except Exception as e:  # noqa: BLE001 -- what the fuzzer is for
                    note(kind, case, f"{type(e).__name__}: {e}")
        trio.run(run_async, bodies, requests)
        done += batch
    seconds = time.perf_counter() - started
    return {"inputs": n, "unexpected": unexpected, "examples": examples, "targets": counts,
            "seconds": round(seconds, 2), "inputs_per_s": round(n / seconds) if seconds else None,
            "max_json_depth": MAX_JSON_DEPTH}
