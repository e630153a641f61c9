"""Outermost ASGI layer: fault injection and the request log.

It is a plain ASGI wrapper around the Starlette app rather than Starlette middleware for two
reasons: it must see every Walmart-side request (including 404s and faulted ones) exactly
once, and the ``reset`` fault needs uvicorn's own ``send`` callable, which Starlette's
error middleware would replace with a wrapper.

Faults never apply to the control plane (``/_sim/...``), so a broad prefix such as ``/``
cannot lock tests out of clearing it. Modes:

* ``status``: answer that status with a Walmart error body (and ``Retry-After`` if given);
* ``slow``: ``asyncio.sleep(delay_seconds)`` - the loop keeps serving others - then proceed,
  unless the simulator was reset meanwhile (then 503: the test that asked for the delay is over);
* ``garbage``: 200, ``Content-Type: application/json``, a body that is not JSON;
* ``body``: 200, ``Content-Type: application/json``, the fault's ``body`` as given (a token
  answer with hostile values, say);
* ``reset``: no HTTP response at all. The handler reaches the connection's transport through
  uvicorn's ``send`` (a bound method of its request cycle), sets ``SO_LINGER`` to 0 and aborts,
  so the kernel sends a TCP RST: httpx raises ``ReadError`` ("connection reset") or
  ``RemoteProtocolError`` ("server disconnected without sending a response"), both
  ``httpx.TransportError``. Should a future uvicorn hide the transport, the fallback starts a
  response that promises a body and drops the connection without it, which clients also
  see as a ``RemoteProtocolError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import errors
from .gateway import RECORD_KEY
from .models import RequestRecord
from .signature import header_value, wire_url
from .state import SimulatorState, now_ms

CONTROL_PREFIX = "/_sim"
GARBAGE_BODY = b'<html><body>Upstream proxy error</body></html>\x00{"error": [trunc'
_PLAIN_HEADERS = {
    "authorization": "Authorization",
    "content-type": "Content-Type",
    "accept": "Accept",
}


def _selected_header_names(scope: Scope) -> list[str]:
    names: list[str] = []
    for raw_name, _ in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        # Walmart spells its headers in upper case; uvicorn hands them over lower-cased.
        shown = name.upper() if name.startswith("wm_") else _PLAIN_HEADERS.get(name)
        if shown is not None and shown not in names:
            names.append(shown)
    return names


def new_record(scope: Scope) -> RequestRecord:
    authorization = header_value(scope, "authorization")
    return RequestRecord(
        at_ms=now_ms(),
        method=scope["method"],
        path=scope["path"],
        raw_url=wire_url(scope),
        headers=_selected_header_names(scope),
        authorization_scheme=authorization.split(" ", 1)[0] if authorization else None,
        correlation_id=header_value(scope, "wm_qos.correlation_id"),
    )


async def reset_connection(send: Send) -> None:
    cycle: Any = getattr(send, "__self__", None)
    transport: Any = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
        )
        return  # uvicorn closes a connection whose response was left incomplete
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0 turns the close into an RST instead of a polite FIN.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # connection_lost runs on a later loop iteration; wait for it so uvicorn knows the
    # client is gone and does not log "returned without starting response" or try a 500.
    for _ in range(20):
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)


class SimulatorMiddleware:
    def __init__(self, app: ASGIApp, state: SimulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        # A request outliving a reset (a client that gave up on a slow answer) belongs to the
        # test before it: it must neither touch nor show in the next test's state and log.
        epoch = self.state.epoch
        record = new_record(scope)
        scope[RECORD_KEY] = record
        fault = self.state.take_fault(scope["path"])
        record.fault = fault.mode if fault is not None else None

        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = int(message["status"])
            await send(message)

        try:
            if fault is not None and fault.mode == "slow":
                await asyncio.sleep(fault.delay_seconds)
            if self.state.epoch != epoch:
                await errors.fault_error(503, None, None)(scope, receive, send)
            elif fault is None or fault.mode == "slow":
                await self.app(scope, receive, send_noting_status)
            elif fault.mode == "reset":
                await reset_connection(send)
            elif fault.mode in ("garbage", "body"):
                body = fault.body.encode() if fault.body is not None else GARBAGE_BODY
                response = Response(body, 200, media_type="application/json")
                await response(scope, receive, send_noting_status)
            else:
                response = errors.fault_error(fault.status, fault.code, fault.retry_after)
                await response(scope, receive, send_noting_status)
        finally:
            if self.state.epoch == epoch:
                self.state.record(record)
