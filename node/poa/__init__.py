"""Proof of Attribution per use: the scorer, its index, and the reads around them.

    span_v1.py   the `span-v1` algorithm: tokens, spans, scores (docs/poa.md, exactly)
    index.py     a datanet's contributions as one suffix-array index (built, saved, loaded)
    chain.py     a datanet's accepted contributions, read from the chain with proofs
    queries.py   a use's escrows and attestations, a model's attributor, a challenge (RPC, light client)
    verify.py    recompute a use's attestations from the data and compare
    bench.py     `attrchain bench poa`
Its commands (`attrchain poa index | score | attest | verify`) are node/cli/poa_commands.py.
"""
from node.poa import queries, span_v1
from node.poa.chain import ChainDataError, read_accepted_contributions
from node.poa.index import SpanIndex, UnknownDataError, build_index, match_files
from node.poa.verify import verify_use

# span_v1 and queries are namespaces (as trio.lowlevel is): the algorithm's constants and
# steps; the answers the RPC and the light client both build, each over its own reads
__all__ = ["span_v1", "queries", "SpanIndex", "UnknownDataError", "build_index", "match_files",
           "ChainDataError", "read_accepted_contributions", "verify_use"]
