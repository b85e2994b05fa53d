"""Read-only queries over the attribution graph, for the RPC, the CLI and the demo.

Every function takes a `view`: anything with `get_record(key)` -- a `Context`, or a
`StateView` over a read function such as `lambda k: store.get_at(k, height)` -- and
writes nothing. Upstream follows `sources` (the expansion is <= 1,024 by construction);
downstream follows the paged dependents index written at registration, bounded by
`limit` because nothing bounds how many assets are built on one.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from state.asset_index import iter_list
from state.asset_records import (
    DEPENDENTS,
    EARNINGS_INDEX,
    MAX_EXPANSION,
    MEMBERS,
    AssetKind,
    AssetRecord,
    Status,
    asset_key,
    earnings_key,
    get_pool,
)
from state.attribution import compute_accrued
from state.codec import decode_value
from state.revenue import get_rights, iter_holders
from state.tx import PPM


MAX_LISTED_HOLDERS = 16     # an asset view lists its largest holders, largest first


class StateView:
    """The read half of a Context over any `read(key) -> bytes | None`."""
    __slots__ = ("_read",)

    def __init__(self, read: Callable[[bytes], bytes | None]) -> None:
        self._read = read

    def get(self, key: bytes) -> bytes | None:
        return self._read(key)

    def get_record(self, key: bytes) -> Any | None:
        v = self._read(key)
        return None if v is None else decode_value(v)


def _record(view, asset_id: bytes) -> AssetRecord | None:
    v = view.get_record(asset_key(asset_id))
    return None if v is None else AssetRecord.decode(v)


@dataclass
class GraphNode:
    """An asset seen from the queried one. `weight_ppm`: weight of the edge that led here
    (1,000,000 at the root); `path_ppm`: product of the weights along the path (floor), the
    part of a payment that crosses that path before any pool or holder takes its share."""
    asset_id: bytes
    kind: int
    name: str
    weight_ppm: int
    path_ppm: int
    children: list["GraphNode"] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"id": self.asset_id.hex(), "kind": AssetKind(self.kind).name.lower(), "name": self.name,
                "weight_ppm": self.weight_ppm, "path_ppm": self.path_ppm,
                "children": [c.to_json() for c in self.children]}

    def walk(self):
        """The nodes depth first, each with its depth."""
        stack = [(self, 0)]
        while stack:
            node, depth = stack.pop()
            yield node, depth
            stack.extend((c, depth + 1) for c in reversed(node.children))


def get_upstream(view, asset_id: bytes) -> GraphNode | None:
    """The asset and, recursively, its sources (a tree: shared ancestors repeat, as in
    the payment rule). None if the asset does not exist."""
    rec = _record(view, asset_id)
    if rec is None:
        return None
    root = GraphNode(asset_id, rec.kind, rec.name, PPM, PPM)
    stack = [(root, rec)]
    while stack:                      # at most MAX_EXPANSION nodes, by the registration cap
        node, rec = stack.pop()
        for source_id, weight in rec.sources:
            src = _record(view, source_id)
            child = GraphNode(source_id, src.kind, src.name, weight, node.path_ppm * weight // PPM)
            node.children.append(child)
            stack.append((child, src))
    return root


def get_downstream(view, asset_id: bytes, limit: int = MAX_EXPANSION) -> tuple[GraphNode | None, bool]:
    """(tree of the assets built on `asset_id`, truncated?) breadth first, at most `limit`
    nodes below the root. `path_ppm` of a node: the part of a payment at that node that
    reaches the root."""
    rec = _record(view, asset_id)
    if rec is None:
        return None, False
    root = GraphNode(asset_id, rec.kind, rec.name, PPM, PPM)
    queue = deque([root])
    count = 0
    while queue:
        node = queue.popleft()
        for dep_id in iter_list(view, DEPENDENTS, node.asset_id):
            if count >= limit:
                return root, True
            dep = _record(view, dep_id)
            weight = next(w for s, w in dep.sources if s == node.asset_id)
            child = GraphNode(dep_id, dep.kind, dep.name, weight, node.path_ppm * weight // PPM)
            node.children.append(child)
            queue.append(child)
            count += 1
    return root, False


def get_earnings(view, account: bytes) -> list[tuple[bytes, int]]:
    """[(asset id, uopen earned from it)] for `account`, in the order it first earned."""
    return [(a, view.get_record(earnings_key(account, a)) or 0)
            for a in iter_list(view, EARNINGS_INDEX, account)]


def get_contributions(view, datanet_id: bytes, start: int = 0, limit: int | None = None) -> list[bytes]:
    """Ids of the contributions submitted to a datanet, in submission order."""
    return list(iter_list(view, MEMBERS, datanet_id, start, limit))


def get_asset_view(view, asset_id: bytes) -> dict | None:
    """A JSON-able description of an asset (addresses as bytes; the caller formats them)."""
    rec = _record(view, asset_id)
    if rec is None:
        return None
    out: dict[str, Any] = {
        "id": asset_id, "kind": AssetKind(rec.kind).name.lower(), "creator": rec.creator,
        "name": rec.name, "metadata_uri": rec.metadata_uri, "price": rec.price,
        "holders": list(iter_holders(view, asset_id, MAX_LISTED_HOLDERS)),
        "vault": get_rights(view, asset_id).vault,
        "sources": [(s, w) for s, w in rec.sources], "expansion": rec.expansion,
    }
    if rec.kind == AssetKind.DATANET:
        pool = get_pool(view, asset_id)
        out.update(contributor_share_ppm=rec.contributor_share_ppm, contribution_bond=rec.contribution_bond,
                   curators=list(rec.curators), pool_weight=pool.total_weight, pool_balance=pool.balance,
                   accepted=pool.members)
    elif rec.kind == AssetKind.CONTRIBUTION:
        out.update(datanet=rec.datanet, content_hash=rec.content_hash, size=rec.extra[2],
                   status=Status(rec.status).name.lower(), weight=rec.weight, escrow=rec.escrow,
                   accrued=(compute_accrued(get_pool(view, rec.datanet).acc, rec.weight, rec.debt)
                            if rec.status == Status.ACCEPTED else 0))
    return out
