"""The project's one HTTP server: health, metrics, the channels' webhooks and the web page (bot.webapp)."""

from __future__ import annotations

import contextlib

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from bot import metrics
from bot.app import App
from bot.webapp import mount


def build_web(app: App) -> FastAPI:
    web = FastAPI(title="forumbot", docs_url=None, redoc_url=None, openapi_url=None)

    @web.get("/healthz")
    async def healthz() -> JSONResponse:
        try:
            async with app.db.sessions() as session:
                await session.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        depth, _oldest = await app.delivery.queue_depth()
        return JSONResponse({"status": "ok", "outbox_depth": depth, "channels": sorted(app.senders)})

    @web.get("/metrics")
    async def prometheus() -> Response:
        # If the database is down /healthz says so; the counters are still worth reading.
        with contextlib.suppress(Exception):
            await app.delivery.queue_depth()
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    mount(web, app)
    return web
