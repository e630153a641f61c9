"""The serving protocol's writes: one per whole answer, nothing held back, closes kept last."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.server import ServerState

from app.ops.http_protocol import CoalescingHttpToolsProtocol

BODY = b'{"ok":true}'
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"11")],
}


class RecordingTransport(asyncio.Transport):
    """The socket's side of a connection: what was written, and when it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, bytes]] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.events.append(("write", bytes(data)))

    def close(self) -> None:
        self.events.append(("close", b""))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        addresses = {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}
        return addresses.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def whole_answer(scope: Scope, receive: Receive, send: Send) -> None:
    await send(START)
    await send({"type": "http.response.body", "body": BODY})


def connect(app: Any) -> tuple[CoalescingHttpToolsProtocol, RecordingTransport]:
    config = Config(app=app, lifespan="off", log_level="warning")
    config.load()
    protocol = CoalescingHttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def until(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the protocol never got there")


def request(*extra: bytes, body: bytes = b"", path: bytes = b"/x") -> bytes:
    head = [b"POST " + path + b" HTTP/1.1", b"host: vault", b"content-length: %d" % len(body)]
    head += extra
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def test_a_whole_answer_leaves_in_one_write() -> None:
    protocol, transport = connect(whole_answer)
    protocol.data_received(request())
    await until(lambda: transport.events)
    await asyncio.sleep(0.02)  # nothing else follows
    [(kind, data)] = transport.events
    assert kind == "write"
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"\r\n\r\n" + BODY)


async def test_answers_on_one_connection_keep_their_order() -> None:
    async def echo_path(scope: Scope, receive: Receive, send: Send) -> None:
        await send(START)
        await send({"type": "http.response.body", "body": scope["path"].encode().ljust(11)})

    protocol, transport = connect(echo_path)
    pipelined = b"".join(request(path=f"/{n}".encode()) for n in range(3))
    protocol.data_received(pipelined)
    await until(lambda: len(transport.events) == 3)
    assert [data[-11:].strip() for _, data in transport.events] == [b"/0", b"/1", b"/2"]


async def test_a_head_whose_body_comes_later_is_not_held_back() -> None:
    seen_before_body: list[tuple[str, bytes]] = []

    async def streaming(scope: Scope, receive: Receive, send: Send) -> None:
        await send(START)
        await asyncio.sleep(0.02)  # the body is not ready in the same loop step
        seen_before_body.extend(transport.events)
        await send({"type": "http.response.body", "body": BODY})

    protocol, transport = connect(streaming)
    protocol.data_received(request())
    await until(lambda: len(transport.events) == 2)
    assert len(seen_before_body) == 1
    assert seen_before_body[0][1].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.events[1] == ("write", BODY)


async def test_100_continue_reaches_a_client_still_holding_its_body() -> None:
    async def reads_body(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        await send(START)
        await send({"type": "http.response.body", "body": message["body"][:11]})

    protocol, transport = connect(reads_body)
    protocol.data_received(request(b"expect: 100-continue", body=BODY).removesuffix(BODY))
    await until(lambda: transport.events)
    assert transport.events == [("write", b"HTTP/1.1 100 Continue\r\n\r\n")]
    protocol.data_received(BODY)
    await until(lambda: len(transport.events) == 2)
    assert transport.events[1][1].endswith(BODY)


async def test_a_closing_answer_is_written_before_the_close() -> None:
    protocol, transport = connect(whole_answer)
    protocol.data_received(request(b"connection: close"))
    await until(lambda: ("close", b"") in transport.events)
    [(kind, data), closed] = transport.events
    assert kind == "write"
    assert data.endswith(BODY)
    assert closed == ("close", b"")
