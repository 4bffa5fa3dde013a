"""The terminal channel: a person chats with the bot in a terminal, on the same database.

Choices are shown as numbered options; typing the number presses the button. Messages reach
the terminal through the same outbox and delivery path as every other channel.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from collections.abc import Callable
from typing import TextIO

from bot.core.messages import EventKind, Inbound, Outbound, OutKind, SendResult
from bot.i18n import LRI, PDI, RLM

CHANNEL = "console"


def parse_line(user: str, line: str, last_tokens: list[str], counter: Callable[[], int]) -> Inbound | None:
    """Turn a typed line into an inbound event (a number picks one of the last options)."""
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
    if text.isdigit() and last_tokens and 1 <= int(text) <= len(last_tokens):
        return Inbound(
            channel=CHANNEL,
            user_id=user,
            chat_id=user,
            kind=EventKind.CHOICE,
            token=last_tokens[int(text) - 1],
            update_key=key,
        )
    return Inbound(channel=CHANNEL, user_id=user, chat_id=user, kind=EventKind.TEXT, text=text, update_key=key)


def render(message: Outbound) -> str:
    """Plain text for a terminal: bidi marks stripped, options numbered."""
    text = message.text
    for mark in (RLM, LRI, PDI, "\u2068"):
        text = text.replace(mark, "")
    lines = [text]
    if message.kind is OutKind.POLL and message.poll is not None:
        lines.append(message.poll.question)
        lines += [f"  [{i}] {opt}" for i, opt in enumerate(message.poll.options, 1)]
    for i, button in enumerate(message.all_buttons, 1):
        lines.append(f"  {i}) {button.label}")
    if message.kind is OutKind.FILE and message.file is not None:
        lines.append(f"  📎 {message.file.name} ({len(message.file.data)} bytes)")
    return "\n".join(lines)


class ConsoleSender:
    """Prints what the delivery path hands it and remembers the last options per chat."""

    channel = CHANNEL

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.last_tokens: dict[str, list[str]] = {}
        self.files: list[tuple[str, bytes]] = []
        self.sent: list[tuple[str, Outbound]] = []
        self._ids = itertools.count(1)

    async def send(self, chat_id: str, message: Outbound) -> SendResult:
        self.sent.append((chat_id, message))
        print(render(message), file=self.out, flush=True)
        print("", file=self.out, flush=True)
        if message.all_buttons:
            self.last_tokens[chat_id] = [b.token for b in message.all_buttons]
        if message.file is not None:
            self.files.append((message.file.name, message.file.data))
        return SendResult(message_id=str(next(self._ids)))


async def run_console(app: object, user: str, stdin: TextIO | None = None) -> None:
    """Read lines until EOF or /quit; each line is one event handled by the real handlers."""
    from bot.app import App

    assert isinstance(app, App)
    sender = app.senders[CHANNEL]
    assert isinstance(sender, ConsoleSender)
    stdin = stdin or sys.stdin
    counter = itertools.count(int(app.clock.now().timestamp() * 1000))
    print("forumbot console · /quit to leave", file=sender.out, flush=True)
    loop = asyncio.get_running_loop()
    while True:
        print("> ", end="", file=sender.out, flush=True)
        line = await loop.run_in_executor(None, stdin.readline)
        if not line or line.strip() in ("/quit", "/exit"):
            break
        event = parse_line(user, line, sender.last_tokens.get(user, []), lambda: next(counter))
        if event is None:
            continue
        await app.conversations.handle(event)
        await app.delivery.drain()
