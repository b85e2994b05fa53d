"""Proof of Attribution per use: the scorer, its index, and the commands around them.

    span_v1.py   the `span-v1` algorithm: tokens, spans, scores (docs/poa.md, exactly)
    index.py     a datanet's contributions as one suffix-array index (built, saved, loaded)
    chain.py     a datanet's accepted contributions, read from the chain with proofs
    queries.py   a use's escrows and attestations, a model's attributor, a challenge (RPC, light client)
    commands.py  `attrchain poa index | score | attest | verify`
    bench.py     `attrchain bench poa`
"""
from node.poa import queries

# queries is a namespace (as trio.lowlevel is): the RPC and the light client build the
# same answers from it, each over its own reads
__all__ = ["queries"]
