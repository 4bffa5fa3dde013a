"""The web page in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium, no browser
download) against the app served by uvicorn, as `forumbot run` serves it. A screenshot of every page
is saved under ``test-artifacts/web/`` (or ``$FORUMBOT_TEST_ARTIFACTS``)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.app import App
from bot.runner import QuietServer
from bot.storage.models import Person
from bot.web import build_web
from tests.conftest import ROOT
from tests.test_escalation import SCHOOL2, gaps, raise_, status_of, texts_to
from tests.web_helpers import BOT_TOKEN, TG_RINA, init_data, link_from_chat, world

CHROMIUM = os.environ.get("FORUMBOT_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("FORUMBOT_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "web"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not shutil.which(CHROMIUM) and not os.environ.get("CI"), reason="no Chromium installed"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served(sqlite_app: App) -> AsyncIterator[tuple[App, str]]:
    import uvicorn

    port = free_port()
    server = QuietServer(uvicorn.Config(build_web(sqlite_app), host="127.0.0.1", port=port, log_level="warning",
                                        lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    yield sqlite_app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        await chromium.close()


async def shot(page: object, name: str) -> None:
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


async def test_sign_in_by_link_filter_the_board_and_answer_a_gap(served: tuple[App, str], browser: object) -> None:
    app, base = served
    w = await world(app)
    # A second gap at the authority, from another school and in another area, to filter out.
    other = await raise_(app, w.ids["noa"], SCHOOL2, "מחסור ביועצת", now=app.clock.now(), category="staffing")
    from bot.services.escalation import forwarding as escalation
    from bot.storage.models import Person

    async with app.db.unit_of_work() as session:
        noa = await session.get(Person, w.ids["noa"])
        await escalation.escalate_issue(session, issue_id=other, person=noa, now=app.clock.now())
    board_forum = (await gaps(app))[0].forum_id

    context = await browser.new_context(viewport={"width": 420, "height": 860}, locale="he-IL")  # type: ignore[attr-defined]
    page = await context.new_page()
    await page.goto(base + await link_from_chat(app, "moshe"))  # the district's lead, coordinator of the authority
    assert page.url == base + "/web"
    assert await page.get_attribute("html", "dir") == "rtl"
    await shot(page, "home-he")
    await page.click(f"a[href='/web/board/{board_forum}']")
    await page.wait_for_selector("li.gap")
    assert await page.locator("li.gap").count() == 2
    await shot(page, "board-he")

    await page.select_option("select[name=area]", "transport")
    await page.click("#filters button[type=submit]")
    await page.wait_for_url("**area=transport**")
    titles = await page.locator("li.gap .title").all_inner_texts()
    assert titles == ["אין הסעה לשכונה החדשה"]
    await page.fill("input[name=q]", "יועצת")
    await page.select_option("select[name=area]", "")
    await page.click("#filters button[type=submit]")
    await page.wait_for_url("**q=**")
    assert await page.locator("li.gap .title").all_inner_texts() == ["מחסור ביועצת"]
    await shot(page, "board-filtered-he")

    await page.goto(f"{base}/web/board/{board_forum}?area=transport")
    await page.click("li.gap a")
    await page.wait_for_selector("#send-answer")
    await shot(page, "gap-he")
    await page.fill("#answer-text", "ההסעה לשכונה תתחיל ביום ראשון")
    await page.click("#send-answer")
    await page.wait_for_selector("#done")
    assert "ההסעה לשכונה תתחיל ביום ראשון" in await page.inner_text("#answer")
    await shot(page, "gap-answered-he")
    await context.close()

    assert await status_of(app, w.issue_id) == "resolved"
    told = await texts_to(app, w.ids["avi"], "ההסעה לשכונה תתחיל ביום ראשון")
    assert len(told) == 1  # the raiser's notice is in the outbox, once


async def test_the_mini_app_signs_in_with_signed_init_data_and_refuses_forged(
    served: tuple[App, str], browser: object
) -> None:
    app, base = served
    await world(app)
    now = app.clock.now().timestamp()
    theme = quote('{"bg_color":"#17212b","text_color":"#f5f5f5","button_color":"#5288c1"}')

    context = await browser.new_context(viewport={"width": 420, "height": 860})  # type: ignore[attr-defined]
    page = await context.new_page()
    forged = init_data(TG_RINA, auth_date=now, token="654321:someone-else")
    await page.goto(f"{base}/web/tma#tgWebAppData={quote(forged)}&tgWebAppThemeParams={theme}")
    await page.wait_for_function("document.getElementById('message').textContent.includes('טלגרם')")
    await shot(page, "miniapp-forged-he")
    response = await page.goto(base + "/web")
    assert response is not None and response.status == 401

    signed = init_data(TG_RINA, auth_date=now)
    await page.goto(f"{base}/web/tma#tgWebAppData={quote(signed)}&tgWebAppThemeParams={theme}")
    await page.wait_for_url(base + "/web")
    assert "רינה מזרחי" in await page.inner_text("header")
    background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(23, 33, 43)"  # Telegram's theme colours
    await shot(page, "miniapp-home-he")
    await context.close()
    assert BOT_TOKEN


async def test_the_tree_and_trends_render_right_to_left_in_hebrew_and_arabic(
    served: tuple[App, str], browser: object
) -> None:
    from sqlalchemy import select, update

    from bot.storage.models import Forum

    app, base = served
    w = await world(app)
    async with app.db.sessions() as session:
        district = await session.scalar(select(Forum.id).where(Forum.code == "D-HAIFA"))
    for name, language in (("moshe", "he"), ("moshe", "ar")):
        async with app.db.unit_of_work() as session:
            await session.execute(update(Person).where(Person.id == w.ids[name]).values(locale=language))
        context = await browser.new_context(viewport={"width": 800, "height": 900})  # type: ignore[attr-defined]
        page = await context.new_page()
        await page.goto(base + await link_from_chat(app, name))
        for what in ("tree", "trends"):
            await page.goto(f"{base}/web/{what}/{district}")
            assert await page.get_attribute("html", "dir") == "rtl"
            assert await page.get_attribute("html", "lang") == language
            assert await page.evaluate("getComputedStyle(document.querySelector('h1')).direction") == "rtl"
            await shot(page, f"{what}-{language}")
        # The chart's months run right to left: the oldest at the right edge, this month at the left.
        xs = await page.eval_on_selector_all("#chart text.month", "els => els.map(e => e.getBBox().x)")
        assert xs == sorted(xs, reverse=True) and len(xs) == 12
        month = await page.inner_text("#months tbody tr:last-child th")
        assert month == {"he": "נובמבר 2026", "ar": "تشرين الثاني 2026"}[language]
        heading = await page.inner_text("h1")
        assert heading == {"he": "מגמות", "ar": "الاتجاهات"}[language]
        await page.goto(f"{base}/web/tree/{district}")
        first_cell = await page.eval_on_selector("#tree th", "e => e.getBoundingClientRect().right")
        last_cell = await page.eval_on_selector("#tree thead th:last-child", "e => e.getBoundingClientRect().right")
        assert first_cell > last_cell  # the table's first column is on the right
        await context.close()


async def test_the_national_picture_and_a_members_page(served: tuple[App, str], browser: object) -> None:
    from sqlalchemy import select

    from bot.storage.models import Forum

    app, base = served
    await world(app)
    async with app.db.sessions() as session:
        school = await session.scalar(select(Forum.id).where(Forum.code == "S-DEMO-210101"))
    context = await browser.new_context(viewport={"width": 800, "height": 900})  # type: ignore[attr-defined]
    page = await context.new_page()
    await page.goto(base + await link_from_chat(app, "hq"))
    await page.click("a[href='/web/national']")
    await page.wait_for_selector("#national")
    assert await page.get_attribute("html", "dir") == "rtl"
    assert "<5" in await page.inner_text("#national")  # one issue: withheld
    await shot(page, "national-he")
    await context.close()

    context = await browser.new_context(viewport={"width": 420, "height": 860})  # type: ignore[attr-defined]
    page = await context.new_page()
    await page.goto(base + await link_from_chat(app, "avi"))
    await page.click(f"a[href='/web/forum/{school}']")
    await page.wait_for_selector("#mine")
    assert "אין הסעה לשכונה החדשה" in await page.inner_text("#mine")
    await shot(page, "forum-member-he")
    await context.close()
