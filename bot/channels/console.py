"""The terminal channel: a person chats with the bot in a terminal, on the same database.

One terminal is one person: `forumbot console --as dana` claims only dana's rows of the outbox, so
a second terminal (`--as miri`) never sees them, and it polls while waiting for input, so what the
bot sends (a notice, a poll, a scheduled reminder) shows as it arrives.

Choices are shown as numbered options; typing the number presses the button. The numbers keep
counting across messages (1–3 for the first, 4–5 for the next…, back to 1 after 99), so the
buttons of an earlier message on the screen still work while the bot still accepts them. Files
are saved under the data folder (`var/console/<person>/`) and their path printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from bot.core.messages import Button, EventKind, Inbound, Outbound, OutKind, SendResult

CHANNEL = "console"
MAX_NUMBER = 99  # numbering wraps around after this: the oldest options give their numbers back
POLL_SECONDS = 0.5  # how often a waiting console looks for messages

# Every bidi control a translator or the i18n layer may put in: marks, embeddings, isolates.
_MARKS = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")
_NUMBERISH = re.compile(r"^[\s\d.,:/+\-%]+$")
_UNSAFE_NAME = re.compile(r"[^\w.\-]+")

Choices = Sequence[str] | Mapping[int, str]


def strip_marks(text: str) -> str:
    return _MARKS.sub("", text)


def parse_line(user: str, line: str, choices: Choices, counter: Callable[[], int]) -> Inbound | None:
    """Turn a typed line into an inbound event (a number presses the option shown with it).

    ``choices`` is either the numbered options on the screen (number → token) or the last
    message's tokens in order (numbered from 1).
    """
    text = line.strip()
    if not text:
        return None
    key = f"{user}:{counter()}"
    if text.startswith("/"):
        head, _, args = text[1:].partition(" ")
        return Inbound(
            channel=CHANNEL,
            user_id=user,
            chat_id=user,
            kind=EventKind.COMMAND,
            text=text,
            command=head.lower(),
            args=args.strip(),
            update_key=key,
        )
    token = _choice(text, choices)
    if token is not None:
        return Inbound(channel=CHANNEL, user_id=user, chat_id=user, kind=EventKind.CHOICE, token=token, update_key=key)
    return Inbound(channel=CHANNEL, user_id=user, chat_id=user, kind=EventKind.TEXT, text=text, update_key=key)


def _choice(text: str, choices: Choices) -> str | None:
    if not text.isdigit() or len(text) > 6:
        return None
    number = int(text)
    if isinstance(choices, Mapping):
        return choices.get(number)
    if 1 <= number <= len(choices):
        return choices[number - 1]
    return None


def _label(label: str) -> str:
    """A label that is itself a number is quoted, so "2) «1»" cannot be read as option 1."""
    clean = strip_marks(label).strip()
    return f"«{clean}»" if clean and _NUMBERISH.match(clean) else clean


def render(message: Outbound, numbers: Sequence[int] | None = None, saved: Path | None = None) -> str:
    """Plain text for a terminal: bidi marks stripped everywhere, options numbered."""
    buttons = message.all_buttons
    numbers = list(numbers) if numbers is not None else list(range(1, len(buttons) + 1))
    lines = [message.text]
    if message.kind is OutKind.POLL and message.poll is not None:
        lines.append(message.poll.question)
        if not buttons:  # otherwise its buttons are the options, with the numbers to type
            lines += [f"  • {_label(opt)}" for opt in message.poll.options]
    for number, button in zip(numbers, buttons, strict=False):
        lines.append(f"  {number}) {_label(button.label)}")
    if message.kind is OutKind.FILE and message.file is not None:
        where = str(saved) if saved is not None else f"{message.file.name} ({len(message.file.data)} bytes)"
        lines.append(f"  📎 {where}")
    return strip_marks("\n".join(line for line in lines if line))


def ranges(numbers: Sequence[int]) -> str:
    """`1–3, 7–8`: the numbers on the screen, in runs."""
    runs: list[list[int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def safe_name(name: str) -> str:
    cleaned = _UNSAFE_NAME.sub("_", strip_marks(name)).strip("._")
    return cleaned[:120] or "file"


class ConsoleSender:
    """Prints what the delivery path hands it, numbering the options of every chat on the screen."""

    channel = CHANNEL

    def __init__(self, out: TextIO | None = None, *, files_dir: Path | None = None) -> None:
        self.out = out or sys.stdout
        self.files_dir = files_dir  # where received files are saved (one folder per person)
        self.last_tokens: dict[str, list[str]] = {}  # the last message's options, numbered from 1
        self.choices: dict[str, dict[int, str]] = {}  # every option on the screen: number → token
        self._next: dict[str, int] = {}
        self.files: list[tuple[str, bytes]] = []
        self.saved: list[Path] = []
        self.sent: list[tuple[str, Outbound]] = []
        self.before_print: Callable[[], None] | None = None  # e.g. end the prompt's line
        self._ids = itertools.count(1)

    def _number(self, chat_id: str, buttons: list[Button]) -> list[int]:
        if not buttons:
            return []
        mine = self.choices.setdefault(chat_id, {})
        start = self._next.get(chat_id, 1)
        if start + len(buttons) - 1 > MAX_NUMBER:
            start = 1
        numbers = list(range(start, start + len(buttons)))
        for number, button in zip(numbers, buttons, strict=True):
            mine[number] = button.token
        self._next[chat_id] = start + len(buttons)
        return numbers

    def _save(self, chat_id: str, name: str, data: bytes) -> Path | None:
        if self.files_dir is None:
            return None
        folder = self.files_dir / safe_name(chat_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / safe_name(name)
        stem, suffix, n = path.stem, path.suffix, 1
        while path.exists() and path.read_bytes() != data:
            n += 1
            path = folder / f"{stem}-{n}{suffix}"
        path.write_bytes(data)
        return path

    async def send(self, chat_id: str, message: Outbound) -> SendResult:
        self.sent.append((chat_id, message))
        numbers = self._number(chat_id, message.all_buttons)
        if message.all_buttons:
            self.last_tokens[chat_id] = [b.token for b in message.all_buttons]
        saved = None
        if message.file is not None:
            self.files.append((message.file.name, message.file.data))
            saved = self._save(chat_id, message.file.name, message.file.data)
            if saved is not None:
                self.saved.append(saved)
        self.show(chat_id, render(message, numbers, saved))
        return SendResult(message_id=str(next(self._ids)))

    def show(self, chat_id: str, text: str) -> None:
        if self.before_print is not None:
            self.before_print()
        print(text, file=self.out, flush=True)
        print("", file=self.out, flush=True)

    def number_of(self, chat_id: str, token: str) -> int | None:
        """The number an option is shown with on this chat's screen (None once it was given back)."""
        for number, shown in self.choices.get(chat_id, {}).items():
            if shown == token:
                return number
        return None


async def _translator(app: object, user: str) -> object:
    """The person's translator (their language and form of address), or the bot's default."""
    from sqlalchemy import select

    from bot.app import App
    from bot.i18n import Translator
    from bot.storage.models import ChannelIdentity, Person

    assert isinstance(app, App)
    settings = app.settings
    async with app.db.sessions() as session:
        row = (
            await session.execute(
                select(Person.locale, Person.address_form, ChannelIdentity.locale_hint)
                .select_from(ChannelIdentity)
                .outerjoin(Person, Person.id == ChannelIdentity.person_id)
                .where(ChannelIdentity.channel == CHANNEL, ChannelIdentity.external_id == user)
            )
        ).first()
    locale, form = settings.default_locale, "p"
    if row is not None:
        locale = row[0] or row[2] or locale
        form = row[1] or form
    return Translator(locale, form, settings.tz)


async def run_console(app: object, user: str, stdin: TextIO | None = None) -> None:
    """Read lines until EOF or /quit; each line is one event handled by the real handlers.

    Only `user`'s messages are claimed from the outbox; while the console waits for a line it
    keeps delivering them as they become due.
    """
    from bot.app import App
    from bot.i18n import Translator

    assert isinstance(app, App)
    sender = app.senders[CHANNEL]
    assert isinstance(sender, ConsoleSender)
    app.delivery.restrict(CHANNEL, {user})
    stdin = stdin or sys.stdin
    # Update keys from the real time (a simulated clock may be reset to an earlier one): unique per line.
    counter = itertools.count(time.time_ns() // 1000)
    lock = asyncio.Lock()
    prompting = False

    def end_prompt_line() -> None:
        nonlocal prompting
        if prompting:
            print("", file=sender.out, flush=True)
            prompting = False

    sender.before_print = end_prompt_line

    async def drain() -> None:
        async with lock:
            await app.delivery.drain()

    async def poll(stop: asyncio.Event) -> None:
        nonlocal prompting
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=POLL_SECONDS)
            try:
                before = len(sender.sent)
                await app.refresh_clock()  # a simulated clock may have moved
                await drain()
                if len(sender.sent) > before and not stop.is_set():
                    print("> ", end="", file=sender.out, flush=True)
                    prompting = True
            except Exception:  # the database away for a moment: the next poll tries again
                await asyncio.sleep(POLL_SECONDS)

    print("forumbot console · /quit to leave", file=sender.out, flush=True)
    await drain()  # what was waiting for this person while no console was open
    stop = asyncio.Event()
    poller = asyncio.create_task(poll(stop))
    loop = asyncio.get_running_loop()
    try:
        while True:
            print("> ", end="", file=sender.out, flush=True)
            prompting = True
            line = await loop.run_in_executor(None, stdin.readline)
            prompting = False
            if not line or line.strip() in ("/quit", "/exit"):
                break
            await app.refresh_clock()
            choices = sender.choices.get(user, {})
            text = line.strip()
            if text.isdigit() and choices and int(text) not in choices:
                t = await _translator(app, user)
                assert isinstance(t, Translator)
                hint = t._("There is no option {number} on the screen. Type one of {numbers}.",
                           number=text, numbers=ranges(list(choices)))
                print(strip_marks(hint), file=sender.out, flush=True)
                print("", file=sender.out, flush=True)
                continue
            event = parse_line(user, line, choices, lambda: next(counter))
            if event is None:
                continue
            await app.conversations.handle(event)
            await drain()
    finally:
        stop.set()
        await poller
        await drain()
