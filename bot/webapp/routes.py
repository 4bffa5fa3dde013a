"""The web page's routes: sign-in, the board and a gap's card with its actions.

Who is asking comes from ``Authorization: tma <initData>`` (a Telegram Mini App, signed by
Telegram on each request) or from the session cookie a sign-in link or a Mini App login set.
Every view asks the permission table through the same services as the chat; every POST made with
the cookie carries the session's CSRF token (form field ``csrf`` or header ``X-CSRF-Token``).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.domain.permissions import Action
from bot.i18n import N_, Translator
from bot.services.errors import Forbidden, NotFound, Refused
from bot.services.escalation import board
from bot.services.escalation import forwarding as escalation
from bot.services.forums import access
from bot.services.web import sessions as websessions
from bot.services.web import stats as webstats
from bot.storage.models import Forum, OrgUnit, Person
from bot.webapp import initdata, opendata, views
from bot.webapp.render import page

COOKIE = "forumbot_session"
ASK_THE_BOT = N_("This sign-in link was already used or has expired. Send /web to the bot for a new one.")
SIGN_IN_FIRST = N_("Please sign in: send /web to the bot, or open the page from the bot's menu in Telegram.")
NOT_REGISTERED = N_("You are not registered with the bot yet. Open the bot and join your forum with your invite.")
BAD_TELEGRAM = N_("Telegram's sign-in data could not be verified. Close the page and open it again from the bot.")
ONLY_LEADS_ABOVE = N_("Only the forum's leads and the coordinators above it can see this.")
ONLY_HQ = N_("Only HQ's coordinators can see the national picture.")
NO_CSRF = N_("The form expired. Go back, reload the page and try again.")


class Unauthorized(Exception):
    def __init__(self, msgid: str) -> None:
        self.msgid = msgid


@dataclass
class Who:
    person: Person
    t: Translator
    csrf: str | None  # None when Telegram signed this request itself (no cookie to forge with)


def translator_for(person: Person | None, app: App) -> Translator:
    if person is None:
        return Translator(app.settings.default_locale, "p", app.settings.tz)
    return Translator(person.locale, person.address_form, app.settings.tz)


def secure_cookie(request: Request, app: App) -> bool:
    """Secure behind HTTPS: the request came over it, a proxy says so, or the public URL is https."""
    return (request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https"
            or app.settings.public_base_url.startswith("https://"))


router = APIRouter()


def app_of(request: Request) -> App:
    """The running deployment, as ``mount`` left it on the FastAPI app."""
    app: App = request.app.state.forumbot
    return app


def bot_token(app: App) -> str:
    token = app.settings.telegram_bot_token
    return token.get_secret_value() if token is not None else ""


def lifetime_of(app: App) -> timedelta:
    return timedelta(hours=app.settings.web_session_hours)


async def who(app: App, session: AsyncSession, request: Request) -> Who:
    header = request.headers.get("authorization", "")
    if header[:4].lower() == "tma ":
        try:
            user = initdata.validate(header[4:].strip(), bot_token(app), max_age=app.settings.telegram_webapp_max_age,
                                     now=app.clock.now().timestamp())
        except initdata.InvalidInitData:
            raise Unauthorized(BAD_TELEGRAM) from None
        person = await websessions.person_by_identity(session, "telegram", str(user.id))
        if person is None:
            raise Unauthorized(NOT_REGISTERED)
        return Who(person, translator_for(person, app), None)
    signed = await websessions.load_session(session, request.cookies.get(COOKIE, ""), app.clock.now())
    if signed is None:
        raise Unauthorized(SIGN_IN_FIRST)
    return Who(signed.person, translator_for(signed.person, app), signed.csrf)


def refusal(t: Translator, msgid: str, status: int, **params: object) -> Response:
    return page(t, "message.html", status=status, text=t._(msgid, **params))


@dataclass
class Call:
    """One request that passed sign-in: the deployment, its transaction and who is asking."""

    app: App
    session: AsyncSession
    me: Who
    request: Request


View = Callable[[Call], Awaitable[Response]]


async def guarded(request: Request, fn: View, *, write: bool = False) -> Response:
    """Resolve the person, run ``fn`` in one transaction, and turn refusals into pages."""
    app = app_of(request)
    try:
        async with app.db.unit_of_work() as session:
            me = await who(app, session, request)
            if write:
                await check_csrf(request, me)
            response = await fn(Call(app, session, me, request))
    except Unauthorized as exc:
        return refusal(translator_for(None, app), exc.msgid, 401)
    except CsrfMissing:
        return refusal(me.t, NO_CSRF, 403)
    except Forbidden as exc:
        return refusal(me.t, exc.msgid, 403, **exc.params)
    except NotFound as exc:
        return refusal(me.t, exc.msgid, 404, **exc.params)
    except Refused as exc:
        return refusal(me.t, exc.msgid, 409, **exc.params)
    if write:
        app.notify_outbox()
    return response


def signed_in(method: str, path: str, *, write: bool = False) -> Callable[[View], View]:
    """Serve ``view`` at ``path`` (a route without path parameters) through ``guarded``; the route
    is named after the view."""

    def register(view: View) -> View:
        async def endpoint(request: Request) -> Response:
            return await guarded(request, view, write=write)

        router.add_api_route(path, endpoint, methods=[method], name=view.__name__)
        return view

    return register


def set_cookie(app: App, response: Response, request: Request, opened: websessions.Opened) -> None:
    response.set_cookie(COOKIE, opened.cookie, max_age=int(lifetime_of(app).total_seconds()), path="/web",
                        httponly=True, samesite="lax", secure=secure_cookie(request, app))


# -- signing in ----------------------------------------------------------------------------


@router.get("/web/link/{token}")
async def open_link(token: str, request: Request) -> Response:
    app = app_of(request)
    async with app.db.unit_of_work() as session:
        person_id = await websessions.consume_link(session, token, app.clock.now())
        if person_id is None:
            return refusal(translator_for(None, app), ASK_THE_BOT, 401)
        opened = await websessions.open_session(session, person_id, app.clock.now(), lifetime_of(app), "link")
    response = RedirectResponse("/web", status_code=303)
    set_cookie(app, response, request, opened)
    return response


@router.get("/web/tma")
async def mini_app_entry(request: Request) -> Response:
    return page(translator_for(None, app_of(request)), "tma.html")


@router.post("/web/login/tma")
async def mini_app_login(request: Request) -> Response:
    app = app_of(request)
    body = (await request.body()).decode("utf-8", "replace")
    form = dict(parse_qsl(body)) if body.startswith("initData=") else {}
    data = form.get("initData", "") if form else body
    wanted = form.get("next", "")
    # Only a page of this site (the digest's button opens a forum's board): never an open redirect.
    next_page = wanted if wanted.startswith("/web/") and "//" not in wanted and "\\" not in wanted else "/web"
    header = request.headers.get("authorization", "")
    if not data and header[:4].lower() == "tma ":
        data = header[4:].strip()
    try:
        user = initdata.validate(data, bot_token(app), max_age=app.settings.telegram_webapp_max_age,
                                 now=app.clock.now().timestamp())
    except initdata.InvalidInitData:
        return JSONResponse({"ok": False, "error": "invalid initData"}, status_code=401)
    async with app.db.unit_of_work() as session:
        person = await websessions.person_by_identity(session, "telegram", str(user.id))
        if person is None:
            return JSONResponse({"ok": False, "error": "not registered"}, status_code=401)
        opened = await websessions.open_session(session, person.id, app.clock.now(), lifetime_of(app), "telegram")
    response = JSONResponse({"ok": True, "next": next_page})
    set_cookie(app, response, request, opened)
    return response


@signed_in("POST", "/web/logout", write=True)
async def logout(c: Call) -> Response:
    await websessions.close_session(c.session, c.request.cookies.get(COOKIE, ""))
    response = page(c.me.t, "message.html", text=c.me.t._("You are signed out."))
    response.delete_cookie(COOKIE, path="/web")
    return response


# -- pages -----------------------------------------------------------------------------------


@signed_in("GET", "/web")
async def home(c: Call) -> Response:
    return page(c.me.t, "home.html", me=c.me, **await views.home(c.session, c.me.person, c.app.clock.now()))


@router.get("/web/forum/{forum_id}")
async def forum_page(forum_id: int, request: Request) -> Response:
    async def go(c: Call) -> Response:
        forum = await access.load_forum(c.session, forum_id)
        context = await views.forum_context(c.session, c.me.t, forum, c.me.person, c.app.clock.now())
        return page(c.me.t, "forum.html", me=c.me, **context)
    return await guarded(request, go)


async def coordinated_forum(c: Call, forum_id: int) -> Forum:
    """A forum whose escalated gaps this person handles (its coordinators, and the tiers above)."""
    forum = await access.load_forum(c.session, forum_id)
    await access.require(c.session, c.me.person, forum, Action.HANDLE_ESCALATED, escalation.ONLY_COORDINATORS)
    return forum


@router.get("/web/board/{forum_id}")
async def board_page(forum_id: int, request: Request) -> Response:
    async def go(c: Call) -> Response:
        forum = await coordinated_forum(c, forum_id)
        filters = board.Filters.parse(dict(c.request.query_params))
        context = await views.board_context(c.session, c.me.t, forum, filters, c.app.clock.now())
        return page(c.me.t, "board.html", me=c.me, **context)
    return await guarded(request, go)


@router.get("/web/gap/{gap_id}")
async def gap_page(gap_id: int, request: Request) -> Response:
    async def go(c: Call) -> Response:
        gap = await escalation.get_gap(c.session, gap_id)
        forum = await coordinated_forum(c, gap.forum_id)
        context = await views.gap_context(c.session, c.me.t, gap, forum, c.app.clock.now())
        return page(c.me.t, "gap.html", me=c.me, done=c.request.query_params.get("done", ""), **context)
    return await guarded(request, go)


async def overview_forum(c: Call, forum_id: int) -> Forum:
    forum = await access.load_forum(c.session, forum_id)
    await access.require(c.session, c.me.person, forum, Action.HANDLE_ESCALATED, ONLY_LEADS_ABOVE)
    if forum.org_unit.tier == "school":
        raise NotFound(N_("There is no tree below a school."))
    return forum


@router.get("/web/tree/{forum_id}")
async def tree_page(forum_id: int, request: Request) -> Response:
    async def go(c: Call) -> Response:
        forum = await overview_forum(c, forum_id)
        context = await views.tree_context(c.session, c.me.t, forum, c.app.clock.now(),
                                           only_stuck=c.request.query_params.get("stuck") == "1")
        return page(c.me.t, "tree.html", me=c.me, **context)
    return await guarded(request, go)


@router.get("/web/trends/{forum_id}")
async def trends_page(forum_id: int, request: Request) -> Response:
    async def go(c: Call) -> Response:
        forum = await overview_forum(c, forum_id)
        context = await views.trends_context(c.session, c.me.t, forum, c.app.clock.now())
        return page(c.me.t, "trends.html", me=c.me, **context)
    return await guarded(request, go)


async def hq_forum(c: Call) -> Forum:
    found = await c.session.scalar(
        select(Forum.id).join(OrgUnit, Forum.org_unit_id == OrgUnit.id)
        .where(OrgUnit.tier == "hq", Forum.kind == "main")
    )
    if found is None:
        raise NotFound(N_("That forum no longer exists."))
    forum = await access.load_forum(c.session, found)
    await access.require(c.session, c.me.person, forum, Action.HANDLE_ESCALATED, ONLY_HQ)
    return forum


@signed_in("GET", "/web/national")
async def national_page(c: Call) -> Response:
    await hq_forum(c)
    context = await views.national_context(c.session, c.me.t, c.app.clock.now())
    return page(c.me.t, "national.html", me=c.me, **context)


@router.get("/web/national.{fmt}")
async def national_data(fmt: str, request: Request) -> Response:
    async def go(c: Call) -> Response:
        if fmt not in ("csv", "json"):
            raise NotFound(N_("That item no longer exists."))
        await hq_forum(c)
        cells = await webstats.national(c.session, c.app.clock.now(), c.app.settings.tz)
        return opendata.response(cells, fmt)
    return await guarded(request, go)


async def act_on_gap(c: Call, gap_id: int, action: str, form: dict[str, str]) -> None:
    """One of a gap card's buttons: the same use cases as the chat's."""
    now, person = c.app.clock.now(), c.me.person
    if action == "ack":
        await escalation.acknowledge(c.session, gap_id=gap_id, person=person, now=now)
    elif action == "owner":
        owner = form.get("owner", "")
        if not owner.isdigit():
            raise Refused(N_("Please choose who is in charge."))
        await escalation.assign_owner(c.session, gap_id=gap_id, person=person, owner_person_id=int(owner), now=now)
    elif action == "answer":
        await escalation.answer(c.session, gap_id=gap_id, person=person, text=form.get("text", ""), now=now)
    elif action == "forward":
        await escalation.forward_gap(c.session, gap_id=gap_id, person=person, now=now)
    else:
        raise NotFound(N_("That item no longer exists."))


@router.post("/web/gap/{gap_id}/{action}")
async def gap_action(gap_id: int, action: str, request: Request) -> Response:
    form = await read_form(request)

    async def go(c: Call) -> Response:
        await act_on_gap(c, gap_id, action, form)
        return RedirectResponse(f"/web/gap/{gap_id}?{urlencode({'done': action})}", status_code=303)

    return await guarded(request, go, write=True)


async def read_form(request: Request) -> dict[str, str]:
    body = (await request.body())[:20_000].decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


async def check_csrf(request: Request, me: Who) -> None:
    if me.csrf is None:
        return  # signed by Telegram on this request: a cross-site page cannot produce that header
    form = await read_form(request)
    given = request.headers.get("x-csrf-token", "") or str(form.get("csrf", ""))
    if not given or not hmac.compare_digest(given.encode(), me.csrf.encode()):
        raise CsrfMissing


class CsrfMissing(Exception):
    pass
