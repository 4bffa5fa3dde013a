"""The project's one HTTP server: health, metrics and the channels' webhooks."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from bot.app import App


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

    return web
