"""Structured logs: one JSON object per line, one line per event.

`get_logger(name)` returns a stdlib logger; `log_event(logger, level, event, **fields)`
writes `{"ts": ..., "level": ..., "logger": ..., "event": ..., **fields}`. Wall-clock time
appears only here, never in anything hashed.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            for k, v in fields.items():
                line[k] = _jsonable(v)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(line, separators=(",", ":"), default=str)


def _jsonable(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    return v


def configure(level: str = "info", stream: TextIO | None = None) -> None:
    """Route the root logger to one JSON line per record (idempotent)."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_attrchain", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    handler._attrchain = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(LEVELS.get(level, logging.INFO))
    # libp2p logs tracebacks for every failed dial; keep them but one line each
    logging.getLogger("libp2p").setLevel(max(LEVELS.get(level, logging.INFO), logging.WARNING))
    for name in ("libp2p",):
        lg = logging.getLogger(name)
        lg.propagate = True


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={"fields": fields})


def now_ms() -> int:
    return int(time.time() * 1000)
