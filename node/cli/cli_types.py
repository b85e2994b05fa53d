"""Click parameter types: every number on the command line is parsed by `Uint` (ASCII
decimal, bounded, see node/numbers.py) and every other typed field by `Parsed`, so a bad
value is click's one-line "Invalid value for '--x'" error, never a traceback. It exits 1
(bad input), not click's usage code 2, which `tx` and `light tx` use for "tx refused"."""
from __future__ import annotations

from typing import Any, Callable

import click

from node.numbers import MAX_UINT, parse_uint


def bad_value(message: str, param: click.Parameter | None, ctx: click.Context | None) -> click.BadParameter:
    e = click.BadParameter(message, ctx, param)
    e.exit_code = 1
    return e


class Uint(click.ParamType):
    name = "integer"

    def __init__(self, lo: int = 0, hi: int = MAX_UINT):
        self.lo, self.hi = lo, hi

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # a default: held to the same bounds
        try:
            return parse_uint(value, param.name if param is not None else "value", self.lo, self.hi)
        except ValueError as e:
            raise bad_value(str(e), param, ctx) from None


UINT = Uint()
HEIGHT = Uint(lo=1)


class Parsed(click.ParamType):
    """A text -> value function as a click type (the function raises ValueError or
    click.BadParameter on bad input)."""

    def __init__(self, parse: Callable[[str], Any], name: str):
        self.parse, self.name = parse, name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self.parse(value)
        except (click.BadParameter, ValueError) as e:
            raise bad_value(str(e.message if isinstance(e, click.BadParameter) else e), param, ctx) from None
