"""The web page over HTTP: signing in (links, Telegram initData, the cookie), every refusal, and the
board's actions through the same services as the chat — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

from bot.app import App
from bot.storage.db import Database
from bot.webapp.initdata import InvalidInitData, validate
from tests.conftest import DEMO_ORG, make_settings
from tests.test_escalation import gaps, status_of, texts_to
from tests.web_helpers import BOT_TOKEN, TG_RINA, client, init_data, link_from_chat, world


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_init_data_is_checked_as_telegram_specifies() -> None:
    now = 1_800_000_000
    good = init_data("42", auth_date=now)
    assert validate(good, BOT_TOKEN, max_age=3600, now=now + 10).id == 42
    for bad in (init_data("42", auth_date=now, token="999:other"),  # signed with another bot's token
                good.replace("42", "43"),  # a field changed after signing
                good + "&extra=1",  # a field added
                "", "hash=abc", "%%%"):
        try:
            validate(bad, BOT_TOKEN, max_age=3600, now=now)
        except InvalidInitData:
            continue
        raise AssertionError(f"accepted {bad!r}")
    try:
        validate(good, BOT_TOKEN, max_age=3600, now=now + 3601)
        raise AssertionError("stale initData accepted")
    except InvalidInitData:
        pass


async def test_no_cookie_no_page(app: App) -> None:
    w = await world(app)
    async with client(app) as http:
        for path in ("/web", "/web/board/1", f"/web/gap/{w.gap_id}"):
            r = await http.get(path)
            assert r.status_code == 401, path
            assert "/web" in r.text and 'dir="rtl"' in r.text
        r = await http.post(f"/web/gap/{w.gap_id}/ack", data={"csrf": "x"})
        assert r.status_code == 401
    assert (await gaps(app))[0].status == "open"


async def test_a_link_from_chat_signs_in_once_and_sets_a_strict_cookie(app: App) -> None:
    await world(app)
    path = await link_from_chat(app, "rina")
    async with client(app) as http:
        r = await http.get(path)
        assert r.status_code == 303 and r.headers["location"] == "/web"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=43200" in cookie
        assert "secure" not in cookie  # plain HTTP (a test server); see the HTTPS test below
        home = await http.get("/web")
        assert home.status_code == 200 and "רינה מזרחי" in home.text and "/web/board/" in home.text
    async with client(app) as other:
        again = await other.get(path)
        assert again.status_code == 401
        assert "/web" in again.text and "כבר" in again.text  # "already used or expired: ask the bot"
        assert (await other.get("/web")).status_code == 401


async def test_an_expired_link_and_an_expired_session_are_refused(app: App) -> None:
    await world(app)
    late = await link_from_chat(app, "rina")
    fresh = await link_from_chat(app, "moshe")
    async with client(app) as http:
        app.clock.advance(timedelta(minutes=9))
        assert (await http.get(fresh)).status_code == 303
        app.clock.advance(timedelta(minutes=2))
        assert (await http.get(late)).status_code == 401
        assert (await http.get("/web")).status_code == 200
        app.clock.advance(timedelta(hours=12))
        assert (await http.get("/web")).status_code == 401


async def test_the_cookie_is_secure_behind_https(app: App) -> None:
    await world(app)
    path = await link_from_chat(app, "rina")
    async with client(app) as http:
        r = await http.get(path, headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()


async def test_telegram_init_data_signs_in_and_forged_or_stale_is_refused(app: App) -> None:
    w = await world(app)
    now = app.clock.now().timestamp()
    async with client(app) as http:
        ok = await http.get("/web", headers={"Authorization": f"tma {init_data(TG_RINA, auth_date=now)}"})
        assert ok.status_code == 200 and "רינה מזרחי" in ok.text
        forged = init_data(TG_RINA, auth_date=now, token="654321:someone-else")
        stale = init_data(TG_RINA, auth_date=now - 3601)
        for data in (forged, stale):
            assert (await http.get("/web", headers={"Authorization": f"tma {data}"})).status_code == 401
            r = await http.post("/web/login/tma", data={"initData": data})
            assert r.status_code == 401 and "set-cookie" not in r.headers
        # Someone Telegram vouches for but who never registered with the bot.
        stranger = await http.post("/web/login/tma", data={"initData": init_data("9999", auth_date=now)})
        assert stranger.status_code == 401
        # A forged header gets nothing done either.
        r = await http.post(f"/web/gap/{w.gap_id}/ack", headers={"Authorization": f"tma {forged}"})
        assert r.status_code == 401
        login = await http.post("/web/login/tma", data={"initData": init_data(TG_RINA, auth_date=now)})
        assert login.status_code == 200 and login.json()["next"] == "/web"
        assert "httponly" in login.headers["set-cookie"].lower()
        assert (await http.get(f"/web/gap/{w.gap_id}")).status_code == 200
    assert (await gaps(app))[0].status == "open"


async def test_another_forums_gap_and_board_are_forbidden(app: App) -> None:
    w = await world(app)
    gap = (await gaps(app))[0]
    async with client(app) as http:
        await http.get(await link_from_chat(app, "noa"))  # the principal of another school
        assert (await http.get("/web")).status_code == 200
        assert (await http.get(f"/web/gap/{w.gap_id}")).status_code == 403
        assert (await http.get(f"/web/board/{gap.forum_id}")).status_code == 403
        home = await http.get("/web")
        csrf = csrf_of(home.text)
        r = await http.post(f"/web/gap/{w.gap_id}/answer", data={"csrf": csrf, "text": "לא שלי"})
        assert r.status_code == 403
        assert (await http.get("/web/gap/999999")).status_code == 404
    assert await status_of(app, w.issue_id) == "escalated"


async def test_a_post_without_the_csrf_token_is_refused(app: App) -> None:
    w = await world(app)
    async with client(app) as http:
        await http.get(await link_from_chat(app, "rina"))
        page = await http.get(f"/web/gap/{w.gap_id}")
        csrf = csrf_of(page.text)
        assert (await http.post(f"/web/gap/{w.gap_id}/ack")).status_code == 403
        assert (await http.post(f"/web/gap/{w.gap_id}/ack", data={"csrf": "forged"})).status_code == 403
        assert (await gaps(app))[0].status == "open"
        done = await http.post(f"/web/gap/{w.gap_id}/ack", data={"csrf": csrf})
        assert done.status_code == 303
        assert (await gaps(app))[0].status == "acknowledged"
        # A header works as well as the form field (for scripts).
        r = await http.post(f"/web/gap/{w.gap_id}/owner", data={"owner": str(w.ids["rina"])},
                            headers={"X-CSRF-Token": csrf})
        assert r.status_code == 303 and (await gaps(app))[0].status == "in_progress"


async def test_an_answer_from_the_page_reaches_the_raiser_once(app: App) -> None:
    w = await world(app)
    async with client(app) as http:
        await http.get(await link_from_chat(app, "moshe"))  # the district's lead: coordinator of the authority
        board = await http.get(f"/web/board/{(await gaps(app))[0].forum_id}")
        assert board.status_code == 200 and "אין הסעה לשכונה החדשה" in board.text
        csrf = csrf_of(board.text)
        r = await http.post(f"/web/gap/{w.gap_id}/answer", data={"csrf": csrf, "text": "ההסעה תתחיל ביום ראשון"})
        assert r.status_code == 303
        card = await http.get(r.headers["location"])
        assert "ההסעה תתחיל ביום ראשון" in card.text and 'id="done"' in card.text
        again = await http.post(f"/web/gap/{w.gap_id}/answer", data={"csrf": csrf, "text": "שוב"})
        assert again.status_code == 409
        empty = await http.get(f"/web/board/{(await gaps(app))[0].forum_id}")
        assert "אין הסעה לשכונה החדשה" not in empty.text  # answered: off the default (open) view
        answered = await http.get(f"/web/board/{(await gaps(app))[0].forum_id}?status=resolved")
        assert "אין הסעה לשכונה החדשה" in answered.text
    assert await status_of(app, w.issue_id) == "resolved"
    told = await texts_to(app, w.ids["avi"], "ההסעה תתחיל ביום ראשון")
    assert len(told) == 1
    assert await texts_to(app, w.ids["dana"], "ההסעה תתחיל ביום ראשון")


def test_an_operator_prints_a_sign_in_link(tmp_path: Path) -> None:
    from tests.test_cli import forumbot

    assert forumbot(tmp_path, "org", "import", str(DEMO_ORG)).returncode == 0
    invite = forumbot(tmp_path, "invite", "--forum", "A2100", "--role", "education_department_head")
    code = invite.stdout.split("code: ")[1].split()[0]
    assert forumbot(tmp_path, "console", "--as", "rina", stdin=f"/start {code}\n1\n4\nרינה\n7\n/quit\n").returncode == 0
    env = {"FORUMBOT_PUBLIC_URL": "https://forums.example.org"}
    printed = forumbot(tmp_path, "weblink", "--channel", "console", "--id", "rina", env=env)
    assert printed.returncode == 0, printed.stderr
    url = printed.stdout.strip()
    assert url.startswith("https://forums.example.org/web/link/")
    unknown = forumbot(tmp_path, "weblink", "--channel", "console", "--id", "nobody")
    assert unknown.returncode == 2 and "no registered person" in unknown.stderr

    async def open_it() -> None:
        database = f"sqlite+aiosqlite:///{tmp_path / 'var' / 'forumbot.sqlite3'}"
        app = App(settings=make_settings(database, tmp_path, FORUMBOT_PUBLIC_URL="https://forums.example.org"),
                  db=Database(database))
        try:
            async with client(app, "https://testserver") as http:  # a Secure cookie only goes back over HTTPS
                r = await http.get(url.removeprefix("https://forums.example.org"))
                assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()
                assert "רינה" in (await http.get("/web")).text
        finally:
            await app.close()

    asyncio.run(open_it())
