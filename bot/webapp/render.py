"""Pages in the person's language and direction, from the Jinja2 templates beside this module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.i18n import N_, Translator

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["zip"] = zip  # pairs for a select whose options show their own value (board.html)


TODAY = N_("today")


class Cached:
    """The translator's lookups, remembered for one page: a tree of 600 rows asks for the same few
    words and numbers again and again, and each lookup walks every feature's catalog."""

    def __init__(self, t: Translator) -> None:
        self.t = t
        self._texts: dict[tuple[Any, ...], str] = {}

    def _(self, msgid: str, /, **params: object) -> str:
        if params:
            return self.t._(msgid, **params)
        found = self._texts.get((msgid,))
        if found is None:
            found = self._texts[(msgid,)] = self.t._(msgid)
        return found

    def n_(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        if params:
            return self.t.n_(singular, plural, n, **params)
        key = (singular, plural, n)
        found = self._texts.get(key)
        if found is None:
            found = self._texts[key] = self.t.n_(singular, plural, n)
        return found

    def days(self, n: int) -> str:
        """An age: "today", "one day", "2 days"..."""
        return self._(TODAY) if n <= 0 else self.n_("one day", "{n} days", n)

    def number(self, n: int | float) -> str:
        key = ("#", n)
        found = self._texts.get(key)
        if found is None:
            found = self._texts[key] = self.t.number(n)
        return found


def page(t: Translator, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    cached = Cached(t)
    html = _env.get_template(name).render(
        _=cached._, n_=cached.n_, number=cached.number, days=cached.days, t=t, lang=t.locale,
        dir="rtl" if t.rtl else "ltr", **context
    )
    return HTMLResponse(html, status_code=status, headers={
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        # Everything is served by the app itself; Telegram shows the page in a frame on the desktop.
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                   "frame-ancestors 'self' https://web.telegram.org",
    })
