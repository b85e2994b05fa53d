"""Make `--dist loadgroup` keep each `xdist_group` on one worker under pytest 9.2.

pytest-xdist 3.8.0 groups by appending "@<group>" to each item's nodeid in the worker
(`item._nodeid = ...`), but pytest 9.2 reads a node's id from `item._id`: the suffix was
lost, loadgroup scheduled like plain `load`, and a group's tests ran on both workers at
once (the explorer's module fixture, a 4-validator testnet, was started on each; the
e2e and p2p tests ran beside each other). This hook, run after xdist's, appends the suffix
where pytest reads it; it does nothing once xdist's own suffix shows.
"""
from __future__ import annotations

import pytest


def group_of(item: pytest.Item) -> str | None:
    names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                    for m in item.iter_markers("xdist_group")})
    return "_".join(names) or None


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not getattr(config.option, "loadgroup", False):  # set in xdist workers under --dist loadgroup
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        group = group_of(item)
        if group is not None and not item.nodeid.endswith("@" + group):
            item._id = coerce_node_id(f"{item.nodeid}@{group}")
