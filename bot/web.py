"""The project's one HTTP server: health, metrics, the channels' webhooks and the web page (bot.webapp)."""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from bot import metrics
from bot.app import App
from bot.clock import is_simulated
from bot.webapp import mount

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Any
Send = Any


class BodyLimit:
    """Refuses a request body over ``limit`` bytes with 413, before the endpoint reads any of it.

    A declared Content-Length over the limit is refused without reading a byte; a chunked body (or
    one that lies about its length) is read up to the limit at most, then refused. What is within
    the limit is handed on as it came. Every endpoint is behind it (webhooks, health, metrics).
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.inner = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is None:
            await _refuse(send, 400, "bad Content-Length")
            return
        if declared > self.limit:
            metrics_refused(scope)
            await _refuse(send, 413, f"request body over {self.limit} bytes")
            return
        if declared == 0 and not _chunked(scope):
            await self.inner(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                metrics_refused(scope)
                await _refuse(send, 413, f"request body over {self.limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        handed = False

        async def replay() -> Message:
            nonlocal handed
            if not handed:
                handed = True
                return {"type": "http.request", "body": body, "more_body": False}
            message = await receive()
            return dict(message)

        await self.inner(scope, replay, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return bytes(value)
    return None


def _chunked(scope: Scope) -> bool:
    return b"chunked" in (_header(scope, b"transfer-encoding") or b"").lower()


def _content_length(scope: Scope) -> int | None:
    """The declared length (0 when none is declared); None when it cannot be a length."""
    raw = _header(scope, b"content-length")
    if raw is None:
        return 0
    text = raw.strip()
    if not text.isdigit() or len(text) > 18:
        return None
    return int(text)


def metrics_refused(scope: Scope) -> None:
    metrics.BODY_REFUSED.inc()


async def _refuse(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def build_web(app: App) -> FastAPI:
    web = FastAPI(title="forumbot", docs_url=None, redoc_url=None, openapi_url=None)
    web.add_middleware(BodyLimit, limit=app.settings.http_max_body_bytes)

    @web.get("/healthz")
    async def healthz() -> JSONResponse:
        try:
            async with app.db.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        depth, _oldest = await app.delivery.queue_depth()
        body: dict[str, object] = {"status": "ok", "outbox_depth": depth, "channels": sorted(app.senders)}
        if is_simulated(app.clock):  # say so: every date this deployment shows is simulated
            body["clock"] = {"simulated": True, "now": app.clock.now().isoformat()}
        else:
            body["clock"] = {"simulated": False}
        return JSONResponse(body)

    @web.get("/metrics")
    async def prometheus() -> Response:
        # If the database is down /healthz says so; the counters are still worth reading.
        with contextlib.suppress(Exception):
            await app.delivery.queue_depth()
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    mount(web, app)
    return web
