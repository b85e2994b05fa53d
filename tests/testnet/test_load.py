"""The load generator's reviews: the curator reviews a contribution only once its own node
has committed it (a review that arrives first is refused `unknown_asset`)."""
from __future__ import annotations

from node.cli.rpc_client import RpcClientError
from testnet.load import ReviewQueue


class CuratorNode:
    """The curator's node as /tx answers: 404 until a tx is committed, then its result."""

    def __init__(self):
        self.results: dict[str, int] = {}   # tx hash -> result code, once committed

    def get(self, path: str, **params):
        assert path == "/tx"
        if params["hash"] not in self.results:
            raise RpcClientError("not_found", "no committed tx", 404)
        return {"hash": params["hash"], "tx_result": {"code": self.results[params["hash"]], "log": ""}}


def test_a_contribution_is_reviewed_only_once_committed_on_the_curators_node_and_once_only():
    node, q = CuratorNode(), ReviewQueue()
    assert q.next(node) is None  # nothing accepted yet
    q.add(b"c1" * 16, "aa")
    q.add(b"c2" * 16, "bb")
    assert q.next(node) is None  # accepted by some node, not committed on the curator's: wait
    node.results["bb"] = 0
    assert q.next(node) is None  # the oldest first: it blocks the newer one, never skipped
    node.results["aa"] = 0
    assert [q.next(node), q.next(node), q.next(node)] == [b"c1" * 16, b"c2" * 16, None]


def test_a_contribution_that_failed_in_its_block_is_dropped_not_reviewed():
    node, q = CuratorNode(), ReviewQueue()
    q.add(b"c1" * 16, "aa")
    q.add(b"c2" * 16, "bb")
    node.results.update(aa=7, bb=0)  # "aa" was included but failed: there is nothing to review
    assert q.next(node) is None
    assert q.next(node) == b"c2" * 16


def test_a_node_that_cannot_answer_leaves_the_contribution_queued():
    class Down:
        def get(self, path, **params):
            raise RpcClientError("unreachable", "connection refused")
    q, node = ReviewQueue(), CuratorNode()
    q.add(b"c1" * 16, "aa")
    assert q.next(Down()) is None
    node.results["aa"] = 0
    assert q.next(node) == b"c1" * 16
