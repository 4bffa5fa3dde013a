"""Abuse: floods, guessing invite codes, and leads taking a membership away."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import FixedClock
from bot.flood import FloodControl, RedisFloodControl, Verdict
from bot.services.forums.membership import CODE_ATTEMPTS_PER_HOUR
from bot.storage.db import Database
from bot.storage.models import AuditLog, Membership
from tests.conftest import T0, make_settings
from tests.helpers import ConsoleUser, console_sender, import_demo, make_invite, plain, principal_and_parent, register
from tests.test_ratelimit import REDIS_URL, redis_or_skip
from tests.wa_helpers import free_port

SCHOOL = "S-DEMO-210101"


def test_flood_control_warns_once_then_drops_then_lets_go() -> None:
    flood = FloodControl(limit=5, window=10, quiet=30)
    now = T0
    verdicts = []
    for _ in range(12):
        verdicts.append(flood.check("console:x", now))
        now += timedelta(milliseconds=200)
    assert verdicts[:5] == [Verdict.OK] * 5
    assert verdicts[5] is Verdict.WARN
    assert verdicts[6:] == [Verdict.DROP] * 6
    assert flood.check("console:someone-else", now) is Verdict.OK  # per person
    assert flood.check("console:x", now + timedelta(seconds=31)) is Verdict.OK  # quiet again: back
    # A steady, human pace never trips it.
    steady = FloodControl(limit=5, window=10, quiet=30)
    assert all(steady.check("k", T0 + timedelta(seconds=3 * i)) is Verdict.OK for i in range(100))


async def test_flood_control_in_redis_is_shared_by_every_process() -> None:
    await redis_or_skip()
    namespace = f"flood-test-{uuid.uuid4().hex[:6]}"
    one, two = (RedisFloodControl(REDIS_URL, namespace, limit=5, window=10, quiet=0.5) for _ in range(2))
    try:
        now = T0
        verdicts = []
        for i in range(8):  # the person's events land on either process
            verdicts.append(await (one if i % 2 else two).verdict("telegram:42", now))
            now += timedelta(milliseconds=200)
        assert verdicts[:5] == [Verdict.OK] * 5
        assert verdicts[5] is Verdict.WARN  # the sixth event, wherever it landed
        assert verdicts[6:] == [Verdict.DROP] * 2
        assert await one.verdict("telegram:43", now) is Verdict.OK  # per person
        await asyncio.sleep(0.7)  # quiet for longer than the quiet period
        assert await two.verdict("telegram:42", now + timedelta(seconds=1)) is Verdict.OK
    finally:
        await one.close()
        await two.close()


async def test_flood_control_lets_people_through_when_redis_is_away() -> None:
    away = RedisFloodControl(f"redis://127.0.0.1:{free_port()}/0", "x", limit=1, window=10, quiet=30)
    try:
        assert [await away.verdict("telegram:1", T0) for _ in range(3)] == [Verdict.OK] * 3
    finally:
        await away.close()


@pytest.fixture
async def flood_app(sqlite_url: str, tmp_path: Path, clock: FixedClock) -> AsyncIterator[App]:
    app = App(settings=make_settings(sqlite_url, tmp_path, FORUMBOT_FLOOD_EVENTS=20), db=Database(sqlite_url),
              clock=clock)
    yield app
    await app.close()


async def test_a_flood_gets_one_polite_answer_and_no_work(flood_app: App) -> None:
    app = flood_app
    await import_demo(app)
    dana = await register(app, "dana", await make_invite(app, SCHOOL, "principal"))
    before = len(dana.received)
    limit = app.settings.flood_events
    for _ in range(limit + 15):  # the fixed clock does not move: all within one second
        await dana.say("/forums")
    texts = [plain(m.text) for m in dana.received[before:]]
    slow = [t for t in texts if "הרבה בבת אחת" in t]
    assert len(slow) == 1
    assert texts[-1] == slow[0]  # after the warning, silence
    # Half a minute later the person is answered again.
    assert isinstance(app.clock, FixedClock)
    app.clock.advance(timedelta(seconds=app.settings.flood_quiet_seconds + 1))
    assert "הפורומים שלך" in await dana.text_of("/forums")


async def test_guessing_invite_codes_is_limited_per_hour(sqlite_app: App) -> None:
    app = sqlite_app
    await import_demo(app)
    code = await make_invite(app, SCHOOL, "parent")
    guesser = ConsoleUser(app, "guesser")
    assert isinstance(app.clock, FixedClock)
    for i in range(CODE_ATTEMPTS_PER_HOUR):
        app.clock.advance(timedelta(seconds=5))
        assert "לא מוכר" in await guesser.text_of(f"/start wrongcode{i:04d}x")
    app.clock.advance(timedelta(seconds=5))
    refused = await guesser.text_of(f"/start {code}")  # even the right code waits now
    assert "יותר מדי קודים שגויים" in refused
    assert "wrongcode" not in refused
    async with app.db.sessions() as session:
        failed = (await session.scalars(select(AuditLog).where(AuditLog.action == "invite.failed"))).all()
    assert len(failed) == CODE_ATTEMPTS_PER_HOUR
    assert all("wrongcode" not in str(a.details) for a in failed)  # the guesses themselves are not kept
    app.clock.advance(timedelta(hours=1))
    assert "בחרו שפה" in await guesser.text_of(f"/start {code}")


async def test_a_lead_revokes_a_membership_and_the_person_is_told(sqlite_app: App) -> None:
    app = sqlite_app
    dana, avi = await principal_and_parent(app, SCHOOL)
    assert isinstance(app.clock, FixedClock)
    app.clock.advance(timedelta(minutes=1))
    listing = await dana.text_of("/members")
    assert "אבי כהן" in listing and "דנה לוי" in listing
    assert "דנה לוי · מנהלת בית הספר" in listing  # the role in the form she chose (feminine)
    labels = [plain(b.label) for b in dana.last.all_buttons]
    assert labels == ["הסרת אבי כהן"]  # no button to remove herself
    # A member cannot list or revoke.
    assert "/members" not in await avi.text_of("/help")
    assert "רק מובילי הפורום" in await avi.text_of("/members")
    confirm = await dana.text_of("1")
    assert "אבי כהן" in confirm
    done = await dana.text_of(str(dana.button_index("סיום החברות")))
    assert "החברות הסתיימה" in done
    await app.delivery.drain()
    told = plain([m for chat, m in console_sender(app).sent if chat == "avi"][-1].text)
    assert "החברות שלך" in told
    async with app.db.sessions() as session:
        membership = (await session.scalars(select(Membership).where(Membership.role == "parent"))).one()
        assert membership.revoked_at is not None
        audit = (await session.scalars(select(AuditLog).where(AuditLog.action == "membership.revoke"))).one()
        assert audit.actor_person_id is not None and audit.details["membership"] == membership.id
    assert "אינך חבר באף פורום" in await avi.text_of("/forums")
    members, ended = (await dana.text_of("/members")).split("חברויות שהסתיימו")
    assert "אבי כהן" not in members and "אבי כהן" in ended  # listed among the ended seats, to re-admit


async def test_revoke_is_checked_again_on_the_press(sqlite_app: App) -> None:
    """A button minted for a lead is refused once they no longer lead (the service re-checks)."""
    app = sqlite_app
    dana, _avi = await principal_and_parent(app, SCHOOL)
    await dana.text_of("/members")
    await dana.text_of("1")
    async with app.db.unit_of_work() as session:
        lead_seat = (await session.scalars(select(Membership).where(Membership.role == "principal"))).one()
        lead_seat.revoked_at = app.clock.now()
    refused = await dana.text_of(str(dana.button_index("סיום החברות")))
    assert "רק מובילי הפורום" in refused
