"""Append-only lists in state, paged so an append costs the same whatever the list's length.

The store has no range scans, so what a query must enumerate (the assets an account
earned from, the assets built on an asset, a datanet's contributions) is kept as a list:

    prefix + owner              -> n (number of items)
    prefix + owner + u32(page)  -> [item, ...]   at most PAGE_SIZE items, page = index // PAGE_SIZE

An append reads and writes two small values; a read of the whole list costs n / PAGE_SIZE
reads. Owners of one prefix all have the same length, so count and page keys never clash.
"""
from __future__ import annotations

import struct
from typing import Iterator

from state.context import Context

PAGE_SIZE = 64
_U32 = struct.Struct(">I")


def length_key(prefix: bytes, owner: bytes) -> bytes:
    return prefix + owner


def get_list_length(ctx: Context, prefix: bytes, owner: bytes) -> int:
    n = ctx.get_record(length_key(prefix, owner))
    return 0 if n is None else n


def page_key(prefix: bytes, owner: bytes, page: int) -> bytes:
    return prefix + owner + _U32.pack(page)


def process_list_append(ctx: Context, prefix: bytes, owner: bytes, item) -> None:
    n = get_list_length(ctx, prefix, owner)
    key = page_key(prefix, owner, n // PAGE_SIZE)
    page = ctx.get_record(key) if n % PAGE_SIZE else None
    ctx.put_record(key, (page or []) + [item])
    ctx.put_record(length_key(prefix, owner), n + 1)


def iter_list(ctx: Context, prefix: bytes, owner: bytes, start: int = 0,
              limit: int | None = None) -> Iterator:
    """Items from index `start` on (at most `limit`), in append order."""
    n = get_list_length(ctx, prefix, owner)
    end = n if limit is None else min(n, start + limit)
    i = start
    while i < end:
        page = ctx.get_record(page_key(prefix, owner, i // PAGE_SIZE)) or []
        items = page[i % PAGE_SIZE:]
        if not items:          # never written short; stop rather than spin
            return
        for item in items:
            if i >= end:
                return
            yield item
            i += 1


def process_list_delete(ctx: Context, prefix: bytes, owner: bytes) -> None:
    """Delete a whole list (its count and pages), e.g. an expiry queue once swept."""
    n = get_list_length(ctx, prefix, owner)
    for page in range(-(-n // PAGE_SIZE)):
        ctx.delete(page_key(prefix, owner, page))
    if n:
        ctx.delete(length_key(prefix, owner))
