"""Structured logs: one JSON object per line on stderr, for the vault and for uvicorn.

uvicorn's own lines (start-up, shutdown, "Exception in ASGI application" with a traceback,
"Invalid HTTP request received") and any other library's errors go through the same formatter
as the vault's, so a log pipeline reads one format. A line with an exception carries the
exception's type and the first line of its message only: a traceback, an exception's text
(asyncio appends ``exception=ValueError('...')`` to its message) or a frame's locals may
quote the data being handled. A traceback logged as text (uvicorn's for a failed start-up) is
cut the same way. uvicorn's access log is off: it would repeat each request with its full
path, and a hand-over link's path is its one-time token. The vault writes its own request
line (``vault.request``) instead.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else was passed in ``extra=`` and is logged as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")
TRACEBACK = "Traceback (most recent call last):"
_EXCEPTION_LINE = re.compile(r"(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*)(?=: |$)")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: a traceback's locals and messages may hold request data.
            entry["exception"] = record.exc_info[0].__name__
            entry["message"] = message.split("\n", 1)[0]
        elif TRACEBACK in message:  # uvicorn logs a failed start-up's traceback as its text
            before, _, trace = message.partition(TRACEBACK)
            entry["exception"] = _raised(trace)
            entry["message"] = before.strip().split("\n", 1)[0] or "traceback left out"
        return json.dumps(entry, default=str)


def _raised(trace: str) -> str:
    """The type of the exception a traceback's text ends with: the first unindented line
    after its last frame reads "pkg.mod.Type: message" (the message may run over more lines)."""
    lines = trace.splitlines()
    last_frame = max((i for i, line in enumerate(lines) if line.startswith("  File ")), default=-1)
    for line in lines[last_frame + 1 :]:
        if line[:1].strip() and (named := _EXCEPTION_LINE.match(line)):
            return named[1]
    return "unknown"


def _json_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    return handler


def configure_logging(level: str) -> None:
    """JSON lines for the vault, for uvicorn (whatever log configuration it started with) and,
    through the root logger, for every other library's warnings and errors."""
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.addHandler(_json_handler())
    logging.getLogger("vault").setLevel(level)
    for name in UVICORN_LOGGERS:
        # uvicorn configured its own handlers before it imported the app: replace them.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True


# For ``uvicorn.run(log_config=...)``: its supervisor process logs before any app is built.
UVICORN_LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
    },
}
