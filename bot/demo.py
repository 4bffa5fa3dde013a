"""`forumbot demo`: the whole story of a gap, played on a fresh database in about a minute.

A principal opens her school's forum and a date poll, a parent and a teacher join by invite and
vote, the poll closes and the meeting is set, the parent raises a transport blocker, the meeting
records its outcomes, the gap climbs to the authority and the district on the working-day clock,
the district manager answers it from his digest, and the answer comes back down.

Nothing is staged: the people type into the console channel (`bot.channels.console`: the same
parsing, numbering and rendering as `forumbot console`), the real handlers and services act, the
outbox and its delivery path carry every message, and the scheduler's jobs run as the simulated
clock moves (`bot.clock.SimulatedClock`, in the demo's own database). The transcript is what each
person reads in their terminal, under their name.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.app import App, build_app
from bot.channels.console import ConsoleSender, parse_line, strip_marks
from bot.clock import SimulatedClock
from bot.config import Settings
from bot.i18n import N_, Translator

MARKER = "FORUMBOT-DEMO"  # a folder the demo made, and may therefore empty
SCHOOL, AUTHORITY, DISTRICT = "S-DEMO-210101", "A2100", "D-HAIFA"
LANGUAGE_BUTTON = {"he": 0, "ar": 1, "en": 2}  # the language picker: עברית · العربية · English
FORM_BUTTON = {"m": 0, "f": 1, "p": 2}


class DemoError(Exception):
    """The story could not go on (a step found nothing to press); says where."""


@dataclass
class Cast:
    key: str  # who they are in the console (`forumbot console --as KEY`)
    name: str
    form: str  # m / f


# The people and what they type, per language (the bot's own words come from its catalogs).
CASTS: dict[str, dict[str, Cast]] = {
    "he": {
        "principal": Cast("dana", "דנה לוי", "f"),
        "parent": Cast("miri", "מירי כהן", "f"),
        "teacher": Cast("rina", "רינה אברהם", "f"),
        "authority": Cast("yael", "יעל מזרחי", "f"),
        "district": Cast("moshe", "משה פרץ", "m"),
    },
    "ar": {
        "principal": Cast("dana", "دانة خوري", "f"),
        "parent": Cast("miri", "مريم حداد", "f"),
        "teacher": Cast("rina", "رنا سليمان", "f"),
        "authority": Cast("yael", "ياسمين عواد", "f"),
        "district": Cast("moshe", "موسى بشارة", "m"),
    },
    "en": {
        "principal": Cast("dana", "Dana Levi", "f"),
        "parent": Cast("miri", "Miri Cohen", "f"),
        "teacher": Cast("rina", "Rina Avraham", "f"),
        "authority": Cast("yael", "Yael Mizrahi", "f"),
        "district": Cast("moshe", "Moshe Peretz", "m"),
    },
}
TYPED: dict[str, dict[str, str]] = {
    "he": {
        "title": "אין הסעה לשכונה החדשה",
        "details": "מאז ספטמבר אין הסעה מהשכונה החדשה, והתלמידים מגיעים באיחור כל בוקר.",
        "answer": "אושר תקציב להסעה מהשכונה החדשה; היא תתחיל ביום ראשון הבא.",
        "note": "בית הספר לא יכול לממן הסעה בעצמו; פונים לרשות.",
    },
    "ar": {
        "title": "لا توجد مواصلات للحي الجديد",
        "details": "منذ أيلول لا توجد مواصلات من الحي الجديد، والطلاب يصلون متأخرين كل صباح.",
        "answer": "تمت المصادقة على ميزانية للمواصلات من الحي الجديد؛ ستبدأ يوم الأحد القادم.",
        "note": "المدرسة لا تستطيع تمويل المواصلات بنفسها؛ نتوجّه إلى السلطة المحلية.",
    },
    "en": {
        "title": "No school transport for the new neighbourhood",
        "details": (
            "Since September there has been no transport from the new neighbourhood; pupils arrive late every morning."
        ),
        "answer": "A budget for transport from the new neighbourhood was approved; it starts next Sunday.",
        "note": "The school cannot fund transport itself; we are asking the authority.",
    },
}

# The narrator's lines (new strings: locales/*/LC_MESSAGES/console_f.po).
STEPS = (
    N_("The principal opens the forum and invites a parent and a teacher"),
    N_("The parent and the teacher join by invite"),
    N_("The principal opens a date poll, and they vote"),
    N_("The poll closes and the meeting is set"),
    N_("The parent raises a transport blocker"),
    N_("The meeting records its outcomes"),
    N_("The gap climbs to the authority and the district on the working-day clock"),
    N_("The district manager answers from the digest"),
    N_("The answer comes back down"),
)
ENDING = N_(
    "That was the whole story. The demo's database and files are in {folder}; "
    "each person's files are in {files}."
)
CONTINUE = N_("To go on by hand in the same deployment, one terminal per person:")


class Transcript(ConsoleSender):
    """The console channel for several people in one transcript: each message under its reader's name."""

    def __init__(self, out: TextIO, files_dir: Path, names: dict[str, str]) -> None:
        super().__init__(out, files_dir=files_dir)
        self.names = names
        self._last_reader: str | None = None
        self.header: str | None = None  # printed before the next message (the day it arrived)

    def show(self, chat_id: str, text: str) -> None:
        if self.header is not None:
            print(self.header, file=self.out)
            print("", file=self.out)
            self.header = None
            self._last_reader = None
        if chat_id != self._last_reader:
            print(f"📱 {self.names.get(chat_id, chat_id)}", file=self.out)
            self._last_reader = chat_id
        for line in text.splitlines():
            print(f"   │ {line}" if line else "   │", file=self.out)
        print("", file=self.out, flush=True)

    def typed(self) -> None:
        self._last_reader = None


class Story:
    def __init__(self, app: App, sender: Transcript, t: Translator, out: TextIO, pace: float) -> None:
        self.app, self.sender, self.t, self.out, self.pace = app, sender, t, out, pace
        self.keys = itertools.count(1)
        self.step = 0

    @property
    def clock(self) -> SimulatedClock:
        assert isinstance(self.app.clock, SimulatedClock)
        return self.app.clock

    def chapter(self, msgid: str) -> None:
        self.step += 1
        print(f"\n━━ {self.step}. {strip_marks(self.t._(msgid))} ━━", file=self.out)
        print(strip_marks(f"🕘 {self.when(self.clock.now())}"), file=self.out)
        print("", file=self.out, flush=True)

    async def breathe(self) -> None:
        if self.pace:
            await asyncio.sleep(self.pace)

    async def say(self, who: Cast, text: str, shown: str | None = None) -> None:
        """`who` types a line into their console."""
        self.sender.typed()
        print(f"⌨  {who.name} › {shown or text}", file=self.out, flush=True)
        print("", file=self.out)
        event = parse_line(who.key, text, self.sender.choices.get(who.key, {}), lambda: next(self.keys))
        assert event is not None
        await self.app.conversations.handle(event)
        await self.app.delivery.drain()
        await self.breathe()

    async def press(self, who: Cast, *, label: str | None = None, prefix: str | None = None, nth: int = 0) -> None:
        """`who` types the number of an option on their screen: the newest one with this label or
        prefix, or the `nth` option of the newest message with options."""
        for chat, message in reversed(self.sender.sent):
            if chat != who.key or not message.all_buttons:
                continue
            buttons = message.all_buttons
            if label is None and prefix is None:
                candidates = buttons[nth : nth + 1]
            else:
                candidates = [
                    b for b in buttons
                    if (label is not None and strip_marks(b.label).strip() == label)
                    or (prefix is not None and strip_marks(b.label).startswith(prefix))
                ]
            for button in candidates:
                number = self.sender.number_of(who.key, button.token)
                if number is not None:
                    await self.say(who, str(number), f"{number}  ({strip_marks(button.label).strip()})")
                    return
            if label is None and prefix is None:
                break
        raise DemoError(f"{who.key} has no option {label or prefix or nth!r} on the screen")

    def last_text(self, who: Cast) -> str:
        for chat, message in reversed(self.sender.sent):
            if chat == who.key:
                return strip_marks(message.text)
        return ""

    async def until(self, at: datetime) -> None:
        """The simulated clock moves to `at`; what became due runs once and is delivered."""
        from scheduler.jobs import run_due

        await self.clock.set(at)
        self.sender.typed()
        print(strip_marks(f"🕘 {self.t._('The clock moves to {when}.', when=self.when(at))}"), file=self.out)
        print("", file=self.out, flush=True)
        await run_due(self.app, self.clock.now())
        await self.app.delivery.drain()
        await self.breathe()

    async def day_by_day(
        self, days: int, hour: int, tz: ZoneInfo, stop: Callable[[], Awaitable[bool]]
    ) -> None:
        """Working through `days` days, each morning at `hour`: the scheduler runs as it would."""
        from scheduler.jobs import run_due

        start = self.clock.now().astimezone(tz).date()
        for n in range(1, days + 1):
            day = start + timedelta(days=n)
            at = datetime(day.year, day.month, day.day, hour, 5, tzinfo=tz)
            await self.clock.set(at)
            before = len(self.sender.sent)
            self.sender.header = strip_marks(f"🕘 {self.when(at)}")
            await run_due(self.app, at)
            await self.app.delivery.drain()
            self.sender.header = None
            if len(self.sender.sent) > before:
                await self.breathe()
                if await stop():
                    return

    def when(self, at: datetime) -> str:
        return f"{self.t.date(at)} {self.t.time(at)}"


def demo_org() -> tuple[str, str]:
    """The demo's org tree (data/demo_org.csv: HQ, districts, Tirat Carmel and its schools)."""
    path = Path(__file__).resolve().parent.parent / "data" / "demo_org.csv"
    if not path.exists():
        raise DemoError(f"{path} is missing (run the demo from a checkout: pip install -e .)")
    return path.read_text(encoding="utf-8"), str(path)


def prepare(folder: Path) -> Path:
    """An empty folder for the demo's database and files (one the demo made earlier is emptied)."""
    folder = folder.resolve()
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise DemoError(f"{folder} is not empty and not a demo's folder; choose another with --data-dir")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by `forumbot demo`; the next demo empties this folder\n", encoding="utf-8")
    return folder


def demo_settings(folder: Path, language: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        DATABASE_URL=f"sqlite+aiosqlite:///{folder / 'forumbot.sqlite3'}",
        FORUMBOT_DATA_DIR=folder,
        FORUMBOT_SIMULATED_CLOCK=True,
        FORUMBOT_DEFAULT_LOCALE=language,
        FORUMBOT_FLOOD_EVENTS=0,  # people type faster than anyone could: no flood control
        FORUMBOT_LOG_LEVEL="WARNING",
        FORUMBOT_TIMEZONE="Asia/Jerusalem",  # the story's dates are Israeli working days
        REDIS_URL="",  # one process: limits in memory
    )


async def play(folder: Path, language: str = "he", out: TextIO | None = None, pace: float = 0.8) -> int:
    from bot.logs import configure
    from bot.services.forums import invites
    from bot.services.forums.orgs import import_org_rows, parse_org_csv
    from bot.storage.migrate import upgrade_async

    out = out or sys.stdout
    configure("WARNING", "text")
    folder = await asyncio.to_thread(prepare, folder)
    settings = demo_settings(folder, language)
    await upgrade_async(settings.effective_database_url)
    app = build_app(settings)
    cast = CASTS[language]
    typed = TYPED[language]
    tz = settings.tz
    sender = Transcript(out, folder / "console", {c.key: c.name for c in cast.values()})
    app.add_sender(sender)
    t = Translator(language, "p", tz)
    story = Story(app, sender, t, out, pace)
    try:
        clock = story.clock
        await clock.refresh()
        await clock.set(datetime(2027, 1, 3, 9, 0, tzinfo=tz))  # a Sunday morning in January
        rows = parse_org_csv(*await asyncio.to_thread(demo_org))
        async with app.db.unit_of_work() as session:
            await import_org_rows(session, rows, now=clock.now())
            codes = {}
            for part, forum, role in (
                ("principal", SCHOOL, "principal"),
                ("authority", AUTHORITY, "education_department_head"),
                ("district", DISTRICT, "district_manager"),
            ):
                found = await invites.forum_by_code(session, forum)
                invite = await invites.create_invite(session, forum=found, role=role, now=clock.now())
                codes[part] = invite.code
        print(strip_marks(t._("The demo: a school's partnership forum and a gap it cannot close alone.")), file=out)

        async def join(who: Cast, code: str) -> None:
            await story.say(who, f"/start {code}")
            await story.press(who, nth=LANGUAGE_BUTTON[language])
            await story.press(who, nth=0)  # I agree
            await story.say(who, who.name)
            if language != "en":
                await story.press(who, nth=FORM_BUTTON[who.form])

        dana, miri, rina = cast["principal"], cast["parent"], cast["teacher"]
        yael, moshe = cast["authority"], cast["district"]

        # 1. The principal opens the forum and a date poll.
        story.chapter(STEPS[0])
        await join(dana, codes["principal"])
        invite_codes = {}
        for who, role_button in ((miri, 4), (rina, 2)):  # parent, teachers' representative
            await story.say(dana, "/invite")
            await story.press(dana, nth=role_button)
            await story.press(dana, nth=0)  # one use
            invite_codes[who.key] = _code_in(story.last_text(dana))

        story.chapter(STEPS[1])
        for who in (miri, rina):
            await join(who, invite_codes[who.key])

        story.chapter(STEPS[2])
        await story.say(dana, "/poll")
        await story.press(dana, prefix="📣")
        await story.press(dana, prefix="▫️")
        await story.press(miri, prefix="▫️")
        await story.press(rina, prefix="▫️")

        story.chapter(STEPS[3])
        await story.until(datetime(2027, 1, 6, 12, 5, tzinfo=tz))
        await story.press(dana, prefix="✅")

        story.chapter(STEPS[4])
        await story.until(datetime(2027, 1, 7, 8, 30, tzinfo=tz))
        await story.say(miri, "/issue")
        await story.press(miri, nth=2)  # a blocker
        await story.say(miri, typed["title"])
        await story.say(miri, typed["details"])
        await story.press(miri, nth=2)  # transport
        await story.press(miri, nth=0)  # with her name and role
        await story.press(miri, nth=0)  # send

        story.chapter(STEPS[5])
        await story.until(datetime(2027, 1, 10, 19, 0, tzinfo=tz))
        await story.say(dana, "/meeting")
        await story.press(dana, nth=0)  # discussed: still open, and the window keeps counting
        await story.say(dana, typed["note"])
        await story.press(dana, nth=0)  # send the summary

        story.chapter(STEPS[6])
        await join(yael, codes["authority"])
        await join(moshe, codes["district"])

        async def digest_reached_the_district() -> bool:
            from sqlalchemy import func, select

            from bot.storage.models import Forum
            from bot.storage.models_escalation import EscalatedGap

            async with app.db.sessions() as session:
                listed = await session.scalar(
                    select(func.count())
                    .select_from(EscalatedGap)
                    .join(Forum, Forum.id == EscalatedGap.forum_id)
                    .where(Forum.code == DISTRICT, EscalatedGap.first_digest_at.is_not(None))
                )
            return bool(listed)

        await story.day_by_day(120, 8, tz, digest_reached_the_district)
        if not await digest_reached_the_district():
            raise DemoError("the gap never reached the district's digest")

        story.chapter(STEPS[7])
        await story.press(moshe, prefix="#")
        await story.press(moshe, nth=2)  # answer

        story.chapter(STEPS[8])
        await story.say(moshe, typed["answer"])
        ending(t, folder, out, cast)
        return 0
    finally:
        await app.close()


def ending(t: Translator, folder: Path, out: TextIO, cast: dict[str, Cast]) -> None:
    print(f"\n━━ {strip_marks(t._('The end'))} ━━", file=out)
    print(strip_marks(t._(ENDING, folder=str(folder), files=str(folder / "console" / "<person>"))), file=out)
    print(strip_marks(t._(CONTINUE)), file=out)
    env = f"FORUMBOT_DATA_DIR={folder} FORUMBOT_SIMULATED_CLOCK=true"
    for who in cast.values():
        print(f"  {env} forumbot console --as {who.key}    # {who.name}", file=out)
    print(f"  {env} forumbot clock advance 7d", file=out, flush=True)


def _code_in(text: str) -> str:
    import re

    found = re.search(r"(?<![\w-])([\w-]{16})(?![\w-])", text, re.ASCII)  # codes may start with "-"
    if found is None:
        raise DemoError(f"no invite code in {text!r}")
    return found.group(1)
