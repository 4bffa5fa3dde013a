"""Privacy: consent with its version, /mydata complete, retention, audit of leads' actions, clean logs."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import logs
from bot.app import App
from bot.clock import FixedClock
from bot.core.messages import EventKind, Inbound, Outbound, OutKind
from bot.services.delivery.outbox import enqueue
from bot.services.forums import invites
from bot.services.forums.people import CONSENT_VERSION
from bot.services.meetings import polls
from bot.services.meetings import schedule as meetings
from bot.services.privacy.erasure import FORGOTTEN_NAME
from bot.storage.models import AuditLog, ChannelIdentity, OutboxMessage, Person
from scheduler.jobs import run_due
from tests.conftest import T0
from tests.helpers import console_sender, import_demo, make_invite, person_of, principal_and_parent, register

SCHOOL = "S-DEMO-210101"


async def test_consent_is_recorded_with_its_version_and_time(sqlite_app: App) -> None:
    await import_demo(sqlite_app)
    await register(sqlite_app, "dana", await make_invite(sqlite_app, SCHOOL, "principal"))
    person = await person_of(sqlite_app, "dana")
    assert person.consent_version == CONSENT_VERSION
    assert person.consent_at == T0


async def test_mydata_has_what_every_feature_keeps(sqlite_app: App) -> None:
    app = sqlite_app
    dana, avi = await principal_and_parent(app, SCHOOL)
    lead, member = await person_of(app, "dana"), await person_of(app, "avi")
    async with app.db.unit_of_work() as session:
        forum = await meetings.load_forum(session, (await invites.forum_by_code(session, SCHOOL)).id)
        draft = await polls.start_draft(session, forum, lead, now=app.clock.now(), tz=app.settings.tz)
        await polls.publish(session, draft.id, person=lead, now=app.clock.now(), tz=app.settings.tz)
        option = (await polls.options_of(session, draft.id))[0]
        await polls.vote(session, draft.id, member, chosen={option.id}, none_works=False, channel="console",
                         now=app.clock.now(), tz=app.settings.tz)
    await dana.say("/invite")  # a lead action that is audited
    await avi.say("/mydata")
    _name, data = console_sender(app).files[-1]
    mine = json.loads(data)
    assert mine["person"]["display_name"] == "אבי כהן"
    assert mine["person"]["consent_version"] == CONSENT_VERSION
    assert [m["role"] for m in mine["memberships"]] == ["parent"]
    assert len(mine["date_poll_ballots"]) == 1
    assert mine["date_poll_ballots"][0]["dates_chosen"] == [option.starts_at.isoformat()]
    for key in ("raised_issues", "channel_identities", "invites_created", "past_memberships",
                "actions_recorded_in_audit_log"):
        assert key in mine
    assert [a["action"] for a in mine["actions_recorded_in_audit_log"]] == ["membership.join"]


async def test_retention_forgets_the_inactive_and_purges_old_personal_rows(sqlite_app: App) -> None:
    app = sqlite_app
    clock = app.clock
    assert isinstance(clock, FixedClock)
    await import_demo(app)
    await register(app, "old", await make_invite(app, SCHOOL, "parent"), display="ותיקה")
    async with app.db.unit_of_work() as session:
        await enqueue(session, channel="console", chat_id="old", now=clock.now(),
                      message=Outbound(kind=OutKind.TEXT, text="שלום ותיקה (sent)"))
    clock.advance(timedelta(days=100))
    await register(app, "recent", await make_invite(app, SCHOOL, "parent"), display="פעילה")
    clock.advance(timedelta(days=app.settings.retention_days - 130))  # day 700: nobody is due yet
    await run_due(app, clock.now())
    assert (await person_of(app, "recent")).forgotten_at is None
    async with app.db.sessions() as session:
        old = await session.scalar(select(Person).where(Person.display_name == FORGOTTEN_NAME))
        assert old is None
    clock.advance(timedelta(days=40))  # day 740: "old" has been away 740 days, "recent" 640
    async with app.db.unit_of_work() as session:
        await enqueue(session, channel="console", chat_id="recent", now=clock.now(),
                      message=Outbound(kind=OutKind.TEXT, text="שלום פעילה (fresh)"))
    await run_due(app, clock.now())
    async with app.db.sessions() as session:
        people_rows = (await session.scalars(select(Person).order_by(Person.id))).all()
        assert [p.display_name for p in people_rows] == [FORGOTTEN_NAME, "פעילה"]
        assert people_rows[0].forgotten_at == clock.now()
        assert await session.scalar(select(ChannelIdentity).where(ChannelIdentity.external_id == "old")) is None
        forget = (await session.scalars(select(AuditLog).where(AuditLog.action == "person.forget"))).one()
        assert forget.details == {"reason": "retention"}
        texts = [m.payload["text"] for m in (await session.scalars(select(OutboxMessage))).all()]
        assert not any("(sent)" in t for t in texts)  # delivered long ago: purged
        assert any("(fresh)" in t for t in texts)  # recent: kept
    # A second run the same day does nothing.
    assert (await run_due(app, clock.now()))["retention"] == 0


async def test_every_lead_action_is_audited(sqlite_app: App) -> None:
    app = sqlite_app
    dana, _avi = await principal_and_parent(app, SCHOOL)
    await dana.say("/invite")
    await dana.say("4")  # the parent role (the 5th is parent; 1-based: principal, counsellor, teachers, committee)
    await dana.say("1")
    await dana.say("/members")
    await dana.say("1")
    await dana.say(str(dana.button_index("סיום החברות")))
    await dana.say("/export")
    async with app.db.sessions() as session:
        actions = {a.action for a in (await session.scalars(select(AuditLog))).all()}
    assert {"invite.create", "membership.revoke"} <= actions


@pytest.fixture
def captured_logs() -> object:
    import io

    stream = io.StringIO()
    logs.configure("DEBUG")
    root = logging.getLogger()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    yield stream
    root.handlers[:] = []


async def test_secrets_and_phone_numbers_never_reach_the_logs(sqlite_app: App, captured_logs: object) -> None:
    import io

    assert isinstance(captured_logs, io.StringIO)
    app = sqlite_app
    token = "123456789:AAFakeTokenForTestsOnly_abcdefghijklmnop"
    phone = "972501234567"
    await import_demo(app)
    await register(app, "dana", await make_invite(app, SCHOOL, "principal"))

    async def leaky(ctx: object) -> None:
        logging.getLogger("bot.test").info("calling https://api.telegram.org/bot%s/sendMessage", token)
        raise RuntimeError(f"upstream said no to {phone} with token={token}")

    command = app.conversations.commands["forums"]
    app.conversations.commands["forums"] = type(command)("forums", command.description, leaky, "registered")
    await app.conversations.handle(Inbound(channel="console", user_id="dana", chat_id="dana",
                                           kind=EventKind.COMMAND, command="forums", phone=f"+{phone}"))
    await app.conversations.handle(Inbound(channel="console", user_id="wa-person", chat_id="wa-person",
                                           kind=EventKind.TEXT, text=f"my number is 050-123-4567 {token}",
                                           phone=phone))
    logging.getLogger("bot.test").warning("sending to %s failed", "+972 50 123 4567")
    out = captured_logs.getvalue()
    assert "RuntimeError" in out  # the traceback is there…
    assert token not in out and "AAFakeToken" not in out  # …without the token
    for form in (phone, "050-123-4567", "+972 50 123 4567", "501234567"):
        assert form not in out
