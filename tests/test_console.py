"""The console channel: one terminal, one person; numbering, marks, files and wrong numbers."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from bot.app import App
from bot.channels.console import ConsoleSender, parse_line, render, run_console
from bot.core.messages import Button, FileSpec, Outbound, OutKind, PollSpec
from bot.i18n import FSI, LRI, PDI, RLM
from tests.conftest import DEMO_ORG
from tests.helpers import import_demo, make_invite
from tests.terminal import Terminal
from tests.test_cli import forumbot

SCHOOL = "S-DEMO-210101"


def invite(tmp_path: Path, role: str) -> str:
    made = forumbot(tmp_path, "invite", "--forum", SCHOOL, "--role", role)
    assert made.returncode == 0, made.stderr
    return made.stdout.split("code: ")[1].split()[0]


def register(term: Terminal, code: str, name: str) -> None:
    term.say(f"/start {code}", "English")
    term.press("עברית", "מסכימים?")
    term.press("אני מסכים/ה", "באיזה שם")
    term.say(name, "איך לפנות אליכם?")
    term.press("לשון נקבה", f"ברוכה הבאה, {name}!")


def test_two_consoles_side_by_side_each_see_only_their_own(tmp_path: Path) -> None:
    assert forumbot(tmp_path, "org", "import", str(DEMO_ORG)).returncode == 0
    dana_code, miri_code = invite(tmp_path, "principal"), invite(tmp_path, "parent")
    dana = Terminal(tmp_path, "console", "--as", "dana")
    miri = Terminal(tmp_path, "console", "--as", "miri")
    try:
        register(dana, dana_code, "דנה")
        register(miri, miri_code, "מירי")
        # miri raises a blocker in her terminal while dana types nothing at all.
        miri.say("/issue", "מה תרצי להעלות?")
        miri.press("חסם", "כותרת קצרה")
        miri.say("אין הסעה לתלמידים", "תארי אותו")
        miri.say("ההסעה בוטלה מאז ספטמבר", "באיזה תחום?")
        miri.press("הסעות", "מי יראה את השם שלך כמקור")
        miri.press("השם והתפקיד שלי", "לשלוח לפורום?")
        before = len(dana.output)
        miri.press("שליחה", "\n> ")
        # The lead's notice reaches dana's terminal by itself (the console polls while waiting).
        notice = dana.wait_for("פער חדש הועלה ב", since=before)
        assert "אין הסעה לתלמידים" in dana.wait_for("אין הסעה לתלמידים", since=before)
        assert notice
        # Her /mydata lands on disk, in her own folder, and the console says where.
        shown = dana.say("/mydata", ".json\n")
        saved = Path(shown.split("📎 ", 1)[1].split("\n", 1)[0].strip())
        assert saved.parent == tmp_path / "var" / "console" / "dana" and saved.suffix == ".json"
        assert "דנה" in saved.read_text(encoding="utf-8")
    finally:
        dana_out, miri_out = dana.close(), miri.close()
    assert "פער חדש הועלה ב" not in miri_out
    assert "ברוכה הבאה, מירי!" not in dana_out and "ברוכה הבאה, דנה!" not in miri_out
    assert "הכפתור הזה כבר לא פעיל" not in miri_out + dana_out
    assert "Traceback" not in dana.errors + miri.errors


def test_buttons_of_earlier_messages_keep_their_numbers(tmp_path: Path) -> None:
    sender = ConsoleSender(io.StringIO())
    first = Outbound(OutKind.CHOICES, "a", buttons=[[Button("t1", "x"), Button("t2", "y")]])
    second = Outbound(OutKind.CHOICES, "b", buttons=[[Button("t3", "z")]])
    asyncio.run(sender.send("dana", first))
    asyncio.run(sender.send("dana", second))
    asyncio.run(sender.send("miri", first))
    screen = sender.out.getvalue()  # type: ignore[attr-defined]
    assert "  1) x\n  2) y" in screen and "  3) z" in screen
    assert sender.choices["dana"] == {1: "t1", 2: "t2", 3: "t3"}
    assert sender.choices["miri"] == {1: "t1", 2: "t2"}
    event = parse_line("dana", "1", sender.choices["dana"], lambda: 1)
    assert event is not None and event.token == "t1"  # the earlier message's button still works
    many = Outbound(OutKind.CHOICES, "c", buttons=[[Button(f"m{i}", f"o{i}")] for i in range(97)])
    asyncio.run(sender.send("dana", many))  # 4..100 does not fit: numbering starts again at 1
    assert sender.choices["dana"][1] == "m0" and sender.choices["dana"][97] == "m96"


def test_marks_are_stripped_everywhere_and_numbers_are_quoted() -> None:
    message = Outbound(
        OutKind.POLL,
        f"{RLM}שאלה {LRI}1{PDI}",
        buttons=[[Button("a", f"{FSI}1{PDI}: משקל {LRI}1{PDI}")], [Button("b", "0"), Button("c", f"{LRI}2{PDI}")]],
        poll=PollSpec(question=f"{RLM}מתי{FSI}?{PDI}", options=[f"{LRI}17/01{PDI}", "3"]),
    )
    shown = render(message, [4, 5, 6])
    for mark in (RLM, FSI, LRI, PDI, "\u200e"):
        assert mark not in shown
    assert "  4) 1: משקל 1" in shown and "  5) «0»" in shown and "  6) «2»" in shown
    assert "מתי?" in shown and "•" not in shown  # the buttons are the options
    bare = Outbound(OutKind.POLL, "", poll=PollSpec(question="מתי?", options=[f"{LRI}17/01{PDI}", "3"]))
    assert render(bare) == "מתי?\n  • «17/01»\n  • «3»"


def test_files_are_saved_under_the_person_and_the_path_printed(tmp_path: Path) -> None:
    sender = ConsoleSender(io.StringIO(), files_dir=tmp_path / "console")
    data = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
    message = Outbound(OutKind.FILE, "הזימון", file=FileSpec.of("meeting-1.ics", "text/calendar", data))
    asyncio.run(sender.send("dana", message))
    asyncio.run(sender.send("dana", message))  # the same file again: one copy
    other = Outbound(OutKind.FILE, "", file=FileSpec.of("meeting-1.ics", "text/calendar", b"other"))
    asyncio.run(sender.send("dana", other))
    path = tmp_path / "console" / "dana" / "meeting-1.ics"
    assert path.read_bytes() == data
    assert (tmp_path / "console" / "dana" / "meeting-1-2.ics").read_bytes() == b"other"
    assert f"📎 {path}" in sender.out.getvalue()  # type: ignore[attr-defined]


async def test_a_wrong_number_says_which_numbers_are_valid(app: App) -> None:
    out = io.StringIO()
    app.add_sender(ConsoleSender(out))
    await import_demo(app)
    code = await make_invite(app, SCHOOL, "parent")
    await run_console(app, "nobody", io.StringIO(f"/start {code}\n7\n1\n"))
    shown = out.getvalue()
    assert "אין על המסך אפשרות 7. יש להקליד אחד מהמספרים 1–3." in shown
    assert "  1) עברית" in shown and "מסכימים?" in shown  # and a right number still works


async def test_a_console_claims_only_its_own_persons_rows(app: App) -> None:
    from sqlalchemy import select

    from bot.services.delivery.outbox import enqueue
    from bot.storage.models import OutboxMessage

    mine, theirs = ConsoleSender(io.StringIO()), ConsoleSender(io.StringIO())
    async with app.db.unit_of_work() as session:
        for chat in ("dana", "miri", "dana"):
            await enqueue(session, channel="console", chat_id=chat, message=Outbound(OutKind.TEXT, f"to {chat}"),
                          now=app.clock.now())
    app.add_sender(mine)
    app.delivery.restrict("console", {"dana"})
    assert await app.delivery.drain() == 2
    assert [chat for chat, _ in mine.sent] == ["dana", "dana"]
    async with app.db.sessions() as session:
        left = (await session.scalars(select(OutboxMessage.chat_id).where(OutboxMessage.status == "queued"))).all()
    assert list(left) == ["miri"]  # left for miri's own console
    app.add_sender(theirs)
    app.delivery.restrict("console", {"miri"})
    assert await app.delivery.drain() == 1 and [chat for chat, _ in theirs.sent] == ["miri"]
