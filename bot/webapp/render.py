"""Pages in the person's language and direction, from the Jinja2 templates beside this module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.i18n import Translator

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def page(t: Translator, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(name).render(
        _=t._, n_=t.n_, t=t, lang=t.locale, dir="rtl" if t.rtl else "ltr", **context
    )
    return HTMLResponse(html, status_code=status, headers={
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # Everything is served by the app itself; Telegram shows the page in a frame on the desktop.
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                   "frame-ancestors 'self' https://web.telegram.org",
    })
