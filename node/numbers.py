"""One parser for every decimal number a client sends (RPC parameters, CLI options).

ASCII digits only: `str.isdigit()` and `int()` also take '²', '٣' or '1_000', which is how
Unicode digits reached `int()` and gave HTTP 500s. The length is checked before `int()`
so no work is proportional to the input, and every value is bounded.
"""
from __future__ import annotations

import re

MAX_UINT = 2**63 - 1                      # amounts, nonces, heights: 0 <= x < 2**63
_DECIMAL = re.compile(r"[0-9]{1,19}")     # 19 digits hold 2**63 - 1; [0-9] is ASCII only


def parse_uint(text: object, name: str, lo: int = 0, hi: int = MAX_UINT) -> int:
    """`text` as an integer in lo..hi, or ValueError naming `name` and the bounds."""
    if not isinstance(text, str) or _DECIMAL.fullmatch(text) is None or not lo <= int(text) <= hi:
        shown = repr(text[:24] + ("..." if len(text) > 24 else "")) if isinstance(text, str) else type(text).__name__
        raise ValueError(f"{name} must be a decimal integer in {lo}..{hi}, got {shown}")
    return int(text)
