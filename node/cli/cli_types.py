"""What every command group shares: the defaults, the --node option, the error exit, the
group of one command per tx kind, and the click parameter types. Every number on the
command line is parsed by `Uint` (ASCII decimal, bounded, see node/numbers.py) and every
other typed field by `Parsed`, so a bad value is click's one-line "Invalid value for
'--x'" error, never a traceback. It exits 1 (bad input), not click's usage code 2, which
`tx` and `light tx` use for "tx refused"."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, NoReturn

import click

from node.numbers import MAX_UINT, parse_uint

DEFAULT_HOME = Path.home() / ".attrchain"
DEFAULT_NODE = "127.0.0.1:26657"
node_option = click.option("--node", default=DEFAULT_NODE, show_default=True, help="RPC address")


def fail(msg: str, code: int = 1, label: str = "error") -> NoReturn:
    click.echo(f"{label}: {msg}", err=True)
    sys.exit(code)


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


class KindGroup(click.Group):
    """A group with one command per tx kind of the ledger's schema (state/tx.py KINDS),
    each built by `make(kind, schema)` when it is asked for."""

    def __init__(self, *args: Any, make: Callable[[str, Any], click.Command], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.make = make

    def list_commands(self, ctx: click.Context) -> list[str]:
        from state.tx import KINDS
        return sorted(KINDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from state.tx import KINDS
        schema = KINDS.get(name)
        return None if schema is None else self.make(name, schema)
