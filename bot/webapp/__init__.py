"""The coordinators' web page, served by the one FastAPI app (see README, *Web page*).

``mount(web, app)`` adds the routes under ``/web`` (module-level functions in ``routes``; each finds the
deployment on ``web.state.forumbot``) and the static assets under ``/web/static``.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bot.app import App
from bot.webapp.render import STATIC
from bot.webapp.routes import router


def mount(web: FastAPI, app: App) -> None:
    web.mount("/web/static", StaticFiles(directory=STATIC), name="web-static")
    web.state.forumbot = app
    web.include_router(router)
