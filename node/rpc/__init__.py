"""The node's HTTP JSON RPC (docs/rpc.md): the starlette app and its server (rpc.py), the
request parameters and their bounds (rpc_params.py), the browser-origin policy
(rpc_origin.py), the node's answers (rpc_backend.py) with its asset, market and explorer
queries, commit waiters (tx_waiters.py) and the explorer's static files."""
from node.rpc.rpc import RpcBackend, make_app, serve_rpc
from node.rpc.rpc_backend import NodeRpc
from node.rpc.rpc_params import RpcError
from node.rpc.tx_waiters import TxWaiters

__all__ = ["make_app", "serve_rpc", "RpcBackend", "RpcError", "NodeRpc", "TxWaiters"]
