"""/forget is complete: after it, no table holds the person's name, phone or account ids.

A parent registers on Telegram (name, phone, Telegram id), raises an issue that quotes their
phone, proposes an agenda item, votes in a date poll, answers a survey, asks for /mydata, has
messages queued for them (one due later), is named in a message to the lead and in a file sent to
the lead, and has WhatsApp inbox rows and processed marks; then /forget. Every column of every
table is scanned (base64 decoded too): none of the strings is left, the goodbye went out, and
nothing queued before /forget reaches them afterwards.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import itertools
import re
import zipfile
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App
from bot.clock import FixedClock
from bot.core.messages import EventKind, FileSpec, Inbound, Outbound, OutKind, SendResult
from bot.services.agenda import issues
from bot.services.delivery.outbox import PRIORITY_BULK, enqueue
from bot.services.forums import invites
from bot.services.meetings import schedule as meetings
from bot.services.surveys import answers as surveys
from bot.storage.models import Base, ChannelIdentity, Person
from bot.storage.models_agenda import RaisedIssue
from bot.storage.models_whatsapp import WhatsAppInbox
from tests.fakes.whatsapp import FakeWhatsApp
from tests.helpers import import_demo, make_invite, plain, register
from tests.test_mydata import propose_vote_and_open_survey
from tests.wa_helpers import InProcess, join, quick_whatsapp_delivery, wire  # noqa: F401

SCHOOL = "S-DEMO-210101"
NAME = "רונית אברהמי"
PHONE = "972541234567"
LOCAL = "0541234567"
TG_ID = "777000123"
_updates = itertools.count(5_000_000)


class RecordingTelegram:
    """Stands for the Telegram adapter: records what the delivery path sends."""

    channel = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[str, Outbound]] = []

    async def send(self, chat_id: str, message: Outbound) -> SendResult:
        self.sent.append((chat_id, message))
        return SendResult(message_id=str(len(self.sent)))

    def to(self, chat_id: str) -> list[Outbound]:
        return [m for c, m in self.sent if c == chat_id]


class TelegramParent:
    def __init__(self, app: App, telegram: RecordingTelegram) -> None:
        self.app, self.telegram = app, telegram

    async def _handle(self, **fields: Any) -> list[Outbound]:
        before = len(self.telegram.to(TG_ID))
        event = Inbound(channel="telegram", user_id=TG_ID, chat_id=TG_ID, update_key=str(next(_updates)),
                        phone=PHONE, **fields)
        await self.app.conversations.handle(event)
        await self.app.delivery.drain()
        return self.telegram.to(TG_ID)[before:]

    async def say(self, text: str) -> list[Outbound]:
        if text.startswith("/"):
            head, _, args = text[1:].partition(" ")
            return await self._handle(kind=EventKind.COMMAND, text=text, command=head, args=args)
        return await self._handle(kind=EventKind.TEXT, text=text)

    async def press(self, label: str) -> list[Outbound]:
        for message in reversed(self.telegram.to(TG_ID)):
            for button in message.all_buttons:
                if plain(button.label) == label:
                    return await self._handle(kind=EventKind.CHOICE, token=button.token, message_ref="42")
        raise AssertionError(f"no button {label!r}")

    async def press_nth(self, n: int) -> list[Outbound]:
        button = self.telegram.to(TG_ID)[-1].all_buttons[n]
        return await self._handle(kind=EventKind.CHOICE, token=button.token)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return [] if value is None else [str(value)]


def _unzipped(raw: bytes) -> list[str]:
    if not raw.startswith(b"PK"):
        return []
    with contextlib.suppress(zipfile.BadZipFile, OSError, ValueError):
        archive = zipfile.ZipFile(io.BytesIO(raw))
        return [archive.read(info).decode("utf-8", errors="ignore") for info in archive.infolist()]
    return []


def _decoded(text: str) -> list[str]:
    """The text, and every base64 run inside it decoded (standard and URL-safe, any alignment; zips opened)."""
    out = [text]
    for run in re.findall(r"[A-Za-z0-9+/_-]{8,}={0,2}", text):
        for start in range(4):
            chunk = run[start:]
            chunk = chunk[: len(chunk) // 4 * 4] if not chunk.endswith("=") else chunk
            for decode in (base64.b64decode, base64.urlsafe_b64decode):
                with contextlib.suppress(binascii.Error, ValueError):
                    raw = decode(chunk)
                    out.append(raw.decode("utf-8", errors="ignore"))
                    out += _unzipped(raw)
    return out


def _xlsx(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def traces(app: App, needles: list[str]) -> list[str]:
    """Every (table, column) where a needle is still found, in any row."""
    found = []
    async with app.db.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings().all():
                for column, value in row.items():
                    for text in _strings(value):
                        for form in _decoded(text):
                            for needle in needles:
                                if needle in form:
                                    found.append(f"{table.name}.{column}: {needle!r} in {text[:80]!r}")
    return found


async def test_forget_leaves_no_trace_of_the_person_anywhere(app: App) -> None:
    clock = app.clock
    assert isinstance(clock, FixedClock)
    telegram = RecordingTelegram()
    app.add_sender(telegram)
    await import_demo(app)
    dana = await register(app, "dana", await make_invite(app, SCHOOL, "principal"))
    parent = TelegramParent(app, telegram)
    await parent.say(f"/start {await make_invite(app, SCHOOL, 'parent')}")
    await parent.press("עברית")
    await parent.press_nth(0)  # consent
    await parent.say(NAME)
    await parent.press_nth(1)  # feminine
    needles = [NAME, PHONE, LOCAL, TG_ID]
    assert await traces(app, needles), "registered: the scan must see her"

    async with app.db.unit_of_work() as session:
        person = await session.scalar(
            select(Person).join(ChannelIdentity).where(ChannelIdentity.external_id == TG_ID)
        )
        assert person is not None and person.display_name == NAME
        lead = await session.scalar(
            select(Person).join(ChannelIdentity).where(ChannelIdentity.external_id == "dana")
        )
        assert lead is not None
        forum = await meetings.load_forum(session, (await invites.forum_by_code(session, SCHOOL)).id)
        now = clock.now()
        await issues.raise_issue(session, forum=forum, person=person, kind="need", category=None,
                                 title=f"מקלט לא נגיש ({NAME})", details=f"אפשר להתקשר אליי: {LOCAL}",
                                 show_name=True, now=now)
        _option, survey = await propose_vote_and_open_survey(session, forum, lead=lead, parent=person,
                                                             channel="telegram", now=now, tz=app.settings.tz)
        question = (await surveys.questions_of(session, survey.id))[1]
        await surveys.answer(session, question_id=question.id, person=person,
                             value={"text": f"{NAME}, טלפון {PHONE}"}, now=now)
        # Queued for her: one due now (bulk), one due tomorrow.
        await enqueue(session, channel="telegram", chat_id=TG_ID, now=now, priority=PRIORITY_BULK,
                      message=Outbound(kind=OutKind.TEXT, text="תזכורת: הסקר מחכה לך"),
                      not_before=now + timedelta(days=1))
        # About her, to the lead: a text that names her and a file with her name and phone.
        await enqueue(session, channel="console", chat_id="dana", now=now,
                      message=Outbound(kind=OutKind.TEXT, text=f"{NAME} הצטרפה לפורום"),
                      not_before=now + timedelta(days=1))
        await enqueue(session, channel="console", chat_id="dana", now=now,
                      message=Outbound(kind=OutKind.FILE, text="חברי הפורום",
                                       file=FileSpec.of("members.csv", "text/csv",
                                                        f"name,phone\n{NAME},+{PHONE}\n".encode())),
                      not_before=now + timedelta(days=1))
        await enqueue(session, channel="console", chat_id="dana", now=now,
                      message=Outbound(kind=OutKind.FILE, text="ייצוא",
                                       file=FileSpec.of("members.xlsx", "application/vnd.openxmlformats-"
                                                        "officedocument.spreadsheetml.sheet",
                                                        _xlsx([["שם", "טלפון"], [NAME, f"+{PHONE}"]]))),
                      not_before=now + timedelta(days=1))
        # WhatsApp: one item of hers still waiting, one done whose wamid carries her number (as Meta's do).
        wamid = "wamid." + base64.b64encode(b"\x1c\x18\x0c" + PHONE.encode() + b"\x15\x02\x00\x12\x18\x20AB12").decode()
        session.add(WhatsAppInbox(update_key="wamid.pending1", kind="event", status="pending", attempts=0,
                                  received_at=now, payload={"wa_id": PHONE, "inbound": {"user_id": PHONE}}))
        session.add(WhatsAppInbox(update_key=wamid, kind="event", status="done", attempts=1, received_at=now,
                                  payload={}))
        other = WhatsAppInbox(update_key="wamid.other", kind="event", status="pending", attempts=0,
                              received_at=now, payload={"wa_id": "972509999999", "text": f"שלום {NAME}"})
        session.add(other)
    await parent.say("/mydata")
    assert any(m.file is not None for m in telegram.to(TG_ID))

    # /forget, confirmed.
    await parent.say("/forget")
    said = await parent.press("מחיקה")
    assert said and said[-1].edit_ref == "42"  # the confirmation message becomes the goodbye
    assert "להתראות" in plain(said[-1].text)

    # Nothing queued before /forget reaches her later.
    sent_to_her = len(telegram.to(TG_ID))
    clock.advance(timedelta(days=2))
    await app.delivery.drain()
    assert len(telegram.to(TG_ID)) == sent_to_her
    await dana.say("/forums")  # the lead's own chat still works

    left = await traces(app, needles)
    assert left == [], "\n".join(left)
    async with app.db.sessions() as session:
        # The lead's messages about her still go, redacted; someone else's inbox item is kept.
        assert (await session.get(WhatsAppInbox, other.id)) is not None
        forgotten = await session.get(Person, person.id)
        assert forgotten is not None and forgotten.forgotten_at is not None


async def test_a_name_that_is_a_common_word_blanks_nothing_of_anyone_else(sqlite_app: App) -> None:
    app = sqlite_app
    await import_demo(app)
    dana = await register(app, "dana", await make_invite(app, SCHOOL, "principal"))
    word = await register(app, "word", await make_invite(app, SCHOOL, "parent"), display="בית ספר")
    async with app.db.unit_of_work() as session:
        lead = await session.scalar(select(Person).join(ChannelIdentity).where(ChannelIdentity.external_id == "dana"))
        assert lead is not None
        forum = await meetings.load_forum(session, (await invites.forum_by_code(session, SCHOOL)).id)
        await issues.raise_issue(session, forum=forum, person=lead, kind="need", category=None,
                                 title="חצר בית ספר מוצפת", details="בית ספר בלי ניקוז", show_name=False,
                                 now=app.clock.now())
    await word.say("/forget")
    await word.say(str(word.button_index("מחיקה")))
    text = plain((await dana.say("/forums"))[-1].text)
    assert "בית ספר יסודי אלונים" in text  # the unit's name is whole
    async with app.db.sessions() as session:
        issue = await session.scalar(select(RaisedIssue))
        assert issue is not None and issue.title == "חצר בית ספר מוצפת" and issue.details == "בית ספר בלי ניקוז"
        assert (await session.get(Person, lead.id)) is not None


@pytest.mark.usefixtures("quick_whatsapp_delivery")
async def test_forget_on_whatsapp_leaves_no_number_or_id(sqlite_app: App) -> None:
    app = sqlite_app
    await import_demo(app)
    async with FakeWhatsApp() as fake:
        wa = InProcess(app, fake, wire(app, fake))
        user = fake.user("נגה", wa_id="972529876543")
        await join(app, user, await make_invite(app, SCHOOL, "parent"), name="נגה שטרן")
        await wa.say(user, "/mydata")
        await wa.say(user, "/forget")
        said = await wa.press(user, "מחיקה")
        assert any("להתראות" in plain(m.text) for m in said)
        assert user.bsuid and user.wa_id
        left = await traces(app, ["נגה שטרן", user.wa_id, user.bsuid, "0529876543"])
        assert left == [], "\n".join(left)
        # Writing again later is a stranger writing: asked for an invite, nothing of the old self.
        again = await wa.say(user, "שלום")
        assert again
