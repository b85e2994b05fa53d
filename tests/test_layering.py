"""The layering of docs/interfaces.md, every forbidden import of it, read from the source.

consensus uses none of node/p2p/state; state none of node/p2p; p2p not node or state;
neither consensus nor state runs trio or a CLI; libp2p (and its multiaddr) is imported by
p2p/libp2p_transport.py alone (multiaddr also by p2p/pex.py, which checks answered addresses); LevelDB by state/store.py (and testnet's benchmarks).
Imports inside functions and under TYPE_CHECKING count like any other.
"""
from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("consensus", "state", "p2p", "node", "testnet")

# package -> top-level modules its code may never import
FORBIDDEN = {
    "consensus": {"node", "p2p", "state", "testnet", "trio", "libp2p", "multiaddr", "plyvel", "click"},
    "state": {"node", "p2p", "testnet", "trio", "libp2p", "multiaddr", "click"},
    "p2p": {"node", "state", "testnet", "plyvel", "click"},
    "node": set(),
    "testnet": set(),
}
# third-party module -> the only files (or folders) that may import it
ONLY_IN = {
    "libp2p": ("p2p/libp2p_transport.py",),
    "multiaddr": ("p2p/libp2p_transport.py", "p2p/pex.py"),  # pex validates peers' answers
    "plyvel": ("state/store.py", "testnet/"),
}


def imports_of(source: str, module: str) -> set[str]:
    """Every module `source` (the code of dotted `module`) imports, relative ones resolved."""
    package = module.split(".")[:-1]
    found = set()
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, ast.Import):
            found.update(a.name for a in n.names)
        elif isinstance(n, ast.ImportFrom):
            base = package[:len(package) - n.level + 1] if n.level else []
            found.add(".".join(base + ([n.module] if n.module else [])))
    return found


def module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_imports() -> list[tuple[str, str]]:
    """(file relative to the root, imported module) over all the packages' code."""
    out = []
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            rel = f.relative_to(ROOT).as_posix()
            out += [(rel, m) for m in imports_of(f.read_text(), module_name(f))]
    return out


def violations(imports: list[tuple[str, str]]) -> list[str]:
    bad = []
    for rel, mod in imports:
        top = mod.split(".")[0]
        if top in FORBIDDEN[rel.split("/")[0]]:
            bad.append(f"{rel} imports {mod}")
        if top in ONLY_IN and not any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in ONLY_IN[top]):
            bad.append(f"{rel} imports {mod} (only {', '.join(ONLY_IN[top])} may)")
    return bad


def test_no_package_imports_what_its_layer_forbids():
    imports = all_imports()
    assert len({rel for rel, _ in imports}) >= 100  # the walk really read the tree
    assert violations(imports) == []


def test_the_check_sees_imports_in_functions_relative_ones_and_third_party_rules():
    src = ("from typing import TYPE_CHECKING\n"
           "from .messages import decode_gossip\n"
           "if TYPE_CHECKING:\n    from node.node import Node\n"
           "def f():\n    import multiaddr\n    from state import app\n")
    found = imports_of(src, "p2p.memory")
    assert {"p2p.messages", "node.node", "multiaddr", "state"} <= found
    assert violations([("p2p/memory.py", m) for m in sorted(found)]) == [
        "p2p/memory.py imports multiaddr (only p2p/libp2p_transport.py, p2p/pex.py may)",
        "p2p/memory.py imports node.node",
        "p2p/memory.py imports state",
    ]
    assert violations([("state/app.py", "consensus.types"), ("testnet/bench_tree.py", "plyvel")]) == []
    assert violations([("consensus/driver.py", "state.tx")]) == ["consensus/driver.py imports state.tx"]
