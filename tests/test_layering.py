"""The layering of docs/interfaces.md, every forbidden import of it, and the package
APIs, read from the source.

consensus uses none of node/p2p/state; state none of node/p2p; p2p not node or state;
neither consensus nor state runs trio or a CLI; libp2p (and its multiaddr) is imported by
p2p/libp2p_transport/transport.py alone (multiaddr also by p2p/pex.py, which checks answered
addresses); LevelDB by state/store.py (and testnet's benchmarks). Inside node/, nothing but
`python -m node` imports the CLI, and neither the light client nor PoA imports the RPC.
Package APIs: code of one package uses another package (a sibling sub-package included)
only through the names its `__init__.py` lists in `__all__`, from whichever module of it;
a package's own modules and sub-packages use it freely.
Imports inside functions and under TYPE_CHECKING count like any other.
The consensus driver: in node/, only the consensus task and Core read `.driver`.
"""
from __future__ import annotations

import ast
import importlib
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
# inside node/: the CLI is the top (only `python -m node` imports it), and the RPC, the
# light client and Proof of Attribution stand beside each other, not on the CLI or the RPC
NODE_PARTS = {
    "node/light/": {"node.cli", "node.rpc"},
    "node/poa/": {"node.cli", "node.rpc"},
    "node/rpc/": {"node.cli"},
    "node/cli/": {"node.rpc"},
    "node/": {"node.cli"},  # the runtime's modules
}
NODE_PARTS_EXEMPT = ("node/__main__.py",)
# third-party module -> the only files (or folders) that may import it
ONLY_IN = {
    "libp2p": ("p2p/libp2p_transport/transport.py",),
    "multiaddr": ("p2p/libp2p_transport/transport.py", "p2p/pex.py"),  # pex validates peers' answers
    "plyvel": ("state/store.py", "testnet/"),
}


def imported_names(source: str, package: str) -> set[tuple[str, str | None]]:
    """(module, name) for every `from module import name` of `source`, whose package is
    dotted `package`, relative ones resolved; (module, None) for every `import module`."""
    parts = package.split(".") if package else []
    found: set[tuple[str, str | None]] = set()
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, ast.Import):
            found.update((a.name, None) for a in n.names)
        elif isinstance(n, ast.ImportFrom):
            base = parts[:len(parts) - n.level + 1] if n.level else []
            found.update((".".join(base + ([n.module] if n.module else [])), a.name) for a in n.names)
    return found


def imports_of(source: str, module: str) -> set[str]:
    """Every module `source` (the code of dotted `module`) imports, relative ones resolved."""
    return {m for m, _ in imported_names(source, ".".join(module.split(".")[:-1]))}


def module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: pathlib.Path) -> str:
    return ".".join(path.parent.relative_to(ROOT).parts)


def all_imports() -> list[tuple[str, str]]:
    """(file relative to the root, imported module) over all the packages' code."""
    out = []
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            rel = f.relative_to(ROOT).as_posix()
            out += [(rel, m) for m in sorted({m for m, _ in imported_names(f.read_text(), package_of(f))})]
    return out


def violations(imports: list[tuple[str, str]]) -> list[str]:
    bad = []
    for rel, mod in imports:
        top = mod.split(".")[0]
        if top in FORBIDDEN[rel.split("/")[0]]:
            bad.append(f"{rel} imports {mod}")
        if top in ONLY_IN and not any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in ONLY_IN[top]):
            bad.append(f"{rel} imports {mod} (only {', '.join(ONLY_IN[top])} may)")
        part = max((p for p in NODE_PARTS if rel.startswith(p)), key=len, default=None)
        if part and rel not in NODE_PARTS_EXEMPT and any(mod == m or mod.startswith(m + ".") for m in NODE_PARTS[part]):
            bad.append(f"{rel} imports {mod} ({part} may not)")
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
        "p2p/memory.py imports multiaddr (only p2p/libp2p_transport/transport.py, p2p/pex.py may)",
        "p2p/memory.py imports node.node",
        "p2p/memory.py imports state",
    ]
    assert violations([("state/app.py", "consensus.types"), ("testnet/bench_tree.py", "plyvel")]) == []
    assert violations([("consensus/driver.py", "state.tx")]) == ["consensus/driver.py imports state.tx"]
    assert violations([("node/light/serve.py", "node.rpc.rpc_backend"), ("node/mempool.py", "node.cli.cli"),
                       ("node/__main__.py", "node.cli"), ("node/cli/cli.py", "node.light")]) == [
        "node/light/serve.py imports node.rpc.rpc_backend (node/light/ may not)",
        "node/mempool.py imports node.cli.cli (node/ may not)",
    ]


# ---- package APIs ------------------------------------------------------------------
# testnet/ and tests/ are harnesses: they seed and measure through any module.
API_USERS = ("consensus", "state", "p2p", "node")


def packages() -> list[str]:
    """Every package (a folder with an __init__.py) of the layered code, dotted."""
    return sorted(package_of(f) for pkg in API_USERS for f in (ROOT / pkg).rglob("__init__.py"))


def exported(package: str) -> set[str]:
    """The names `package`'s __init__.py lists in `__all__` (read from the source)."""
    tree = ast.parse((ROOT / package.replace(".", "/") / "__init__.py").read_text())
    for n in tree.body:
        if isinstance(n, (ast.Assign, ast.AnnAssign)) and "__all__" in {
                t.id for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}:
            return set(ast.literal_eval(n.value))
    return set()


def owner(module: str, pkgs: list[str]) -> str | None:
    """The innermost package holding dotted `module` (None: not layered code)."""
    inside = [p for p in pkgs if module == p or module.startswith(p + ".")]
    return max(inside, key=len, default=None)


def cross_package_imports() -> list[tuple[str, str, str | None, str]]:
    """(file, module, name, target package) for every import of one package's code from
    another package: not its own, nor one enclosing it."""
    pkgs = packages()
    out = []
    for pkg in API_USERS:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            here = module_name(f)
            for mod, name in sorted(imported_names(f.read_text(), package_of(f)), key=str):
                target = owner(mod, pkgs)
                if target and not (here == target or here.startswith(target + ".")):
                    out.append((f.relative_to(ROOT).as_posix(), mod, name, target))
    return out


def api_violations(imports: list[tuple[str, str, str | None, str]],
                   exports: dict[str, set[str]]) -> list[str]:
    bad = []
    for rel, mod, name, target in imports:
        if name is None:
            bad.append(f"{rel}: `import {mod}` reaches into {target}; import names of its API")
        elif name not in exports[target]:
            bad.append(f"{rel}: {name} (from {mod}) is not in {target}'s __all__")
    return bad


def test_every_cross_package_import_names_the_target_packages_api():
    imports = cross_package_imports()
    assert len(imports) >= 200  # the walk really found the packages' imports of each other
    assert api_violations(imports, {p: exported(p) for p in packages()}) == []


def test_each_api_name_is_the_object_its_module_defines_and_nothing_is_lazy():
    """A name of `__all__` is really bound by the package's import (no module __getattr__),
    and an import of it from any module of the package gets that same object (a name
    defined twice in one package, e.g. two `Status` enums, cannot pass as the other)."""
    for package in packages():
        module = importlib.import_module(package)
        assert "__getattr__" not in vars(module), package
        for name in exported(package):
            assert hasattr(module, name), f"{package}.__all__ names {name}, which it does not bind"
    for rel, mod, name, target in cross_package_imports():
        assert getattr(importlib.import_module(mod), name) is getattr(importlib.import_module(target), name), \
            f"{rel}: {mod}.{name} is not {target}.{name}"


def test_the_api_check_resolves_packages_and_flags_what_is_not_exported():
    pkgs = ["node", "node.light", "state"]
    assert owner("node.light.client", pkgs) == "node.light"
    assert owner("node.mempool", pkgs) == "node"
    assert owner("trio", pkgs) is None
    exports = {"state": {"tx_id"}, "node.light": {"LightClient"}, "node": set()}
    imports = [("node/x.py", "state.tx", "tx_id", "state"), ("node/x.py", "state.tx", "_hash", "state"),
               ("node/poa/y.py", "node.light.store", "TrustedStore", "node.light"),
               ("node/x.py", "state.app", None, "state")]
    assert api_violations(imports, exports) == [
        "node/x.py: _hash (from state.tx) is not in state's __all__",
        "node/poa/y.py: TrustedStore (from node.light.store) is not in node.light's __all__",
        "node/x.py: `import state.app` reaches into state; import names of its API",
    ]
    assert {("state.tx", "tx_id"), ("node.light", "client"), ("node", None)} == imported_names(
        "from state.tx import tx_id\ndef f():\n    from . import client\nimport node\n", "node.light")


# ---- the consensus driver -----------------------------------------------------------
# ConsensusView is a structural Protocol, so nothing in the types stops a reader from
# reaching past it; this rule does: only the consensus task and the Core that owns the
# driver read an attribute named `driver` (getattr with that name included).
DRIVER_READERS = ("node/runtime/consensus_task.py", "node/runtime/core.py")


def driver_reads(source: str) -> list[int]:
    """The lines of `source` that read an attribute named `driver`."""
    lines = []
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, ast.Attribute) and n.attr == "driver":
            lines.append(n.lineno)
        elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("getattr", "hasattr")
              and len(n.args) >= 2 and isinstance(n.args[1], ast.Constant) and n.args[1].value == "driver"):
            lines.append(n.lineno)
    return sorted(lines)


def driver_violations(files: list[tuple[str, str]]) -> list[str]:
    """`file:line reads .driver` for every read outside DRIVER_READERS; `files` is
    (path relative to the root, source)."""
    return [f"{rel}:{line} reads .driver (only {', '.join(DRIVER_READERS)} may)"
            for rel, src in files if rel not in DRIVER_READERS for line in driver_reads(src)]


def test_only_the_consensus_task_and_core_read_the_driver():
    files = [(f.relative_to(ROOT).as_posix(), f.read_text()) for f in sorted((ROOT / "node").rglob("*.py"))]
    assert driver_reads(dict(files)["node/runtime/consensus_task.py"])  # the walk sees real reads
    assert driver_violations(files) == []


def test_the_driver_check_flags_reads_outside_the_consensus_task():
    planted = ("def height(task):\n    return task.driver.height\n"
               "def step(task):\n    return getattr(task, 'driver').state\n"
               "def fine(driver):\n    return driver.state\n")
    assert driver_reads(planted) == [2, 4]
    assert driver_violations([("node/rpc/rpc_backend.py", planted), ("node/runtime/core.py", planted),
                              ("node/runtime/consensus_task.py", planted)]) == [
        "node/rpc/rpc_backend.py:2 reads .driver (only node/runtime/consensus_task.py, node/runtime/core.py may)",
        "node/rpc/rpc_backend.py:4 reads .driver (only node/runtime/consensus_task.py, node/runtime/core.py may)",
    ]
