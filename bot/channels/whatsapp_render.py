"""How the core's messages look on WhatsApp: pure functions, no I/O, no pywa.

The Cloud API's limits: text 4096 characters, an interactive body 1024, 1–3 reply buttons with
unique titles of at most 20 characters, a list of at most 10 rows in all (title 24, description
72, its button 20), a document caption 1024. Long text is split at line breaks (between words
when a line alone is too long; a word is cut only when it is longer than a whole message).

Choices become reply buttons when there are at most three and every label fits; a list when
there are more (or a label is long: the row's description carries the full label); beyond ten,
the list shows nine and a "More…" row whose tap sends the rest. A date poll is a list the member
taps to toggle an option. Numbered text is the last resort, when WhatsApp refuses the interactive
message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.core.messages import Button, FileSpec, Outbound, OutKind
from bot.i18n import RLM, first_strong_is_rtl

MAX_TEXT = 4096
MAX_BODY = 1024
MAX_CAPTION = 1024
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_LIST_BUTTON = 20
MAX_SECTION_TITLE = 24
MAX_TEMPLATE_PARAM = 60
ELLIPSIS = "…"
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Labels:
    """The few words the renderer adds, in the reader's language."""

    options: str = "Options"  # the button that opens a list
    vote: str = "Vote"  # the button that opens a date poll's list
    more: str = "More…"  # the last row of a page
    more_body: str = "More options:"  # the text above the next page
    choose: str = "Choose:"  # a body for a menu that has no text
    reply_with_number: str = "Reply with the number of your choice."


@dataclass
class TextPart:
    text: str


@dataclass
class ButtonsPart:
    body: str
    buttons: list[tuple[str, str]]  # (id = our token, title)


@dataclass
class Row:
    id: str
    title: str
    description: str | None = None


@dataclass
class ListPart:
    body: str
    button: str
    rows: list[Row]
    rest: list[Button] = field(default_factory=list)  # options for the next page, behind a "More…" row


@dataclass
class DocumentPart:
    file: FileSpec
    caption: str


Part = TextPart | ButtonsPart | ListPart | DocumentPart


# -- text -------------------------------------------------------------------------------------


def directed(text: str, rtl: bool) -> str:
    """A piece of a right-to-left message starts with RLM when it would otherwise read left to right."""
    if rtl and text and not text.startswith(RLM) and not first_strong_is_rtl(text):
        return RLM + text
    return text


def _split_words(line: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    for word in re.split(r"(?<= )", line):  # keep each word's trailing space
        if len(current) + len(word.rstrip()) <= limit:
            current += word
            continue
        if current.strip():
            pieces.append(current.rstrip())
        current = ""
        while len(word.rstrip()) > limit:  # a single word longer than a whole message
            pieces.append(word[:limit])
            word = word[limit:]
        current = word
    if current.strip():
        pieces.append(current.rstrip())
    return pieces


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at line breaks, else between words."""
    if len(text) <= limit:
        return [text] if text.strip() else []
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current.strip():
            pieces.append(current)
        current = ""
        if len(line) <= limit:
            current = line
            continue
        words = _split_words(line, limit)
        pieces += words[:-1]
        current = words[-1] if words else ""
    if current.strip():
        pieces.append(current)
    return [piece.strip("\n") for piece in pieces if piece.strip()]


def clean_label(label: str) -> str:
    return _SPACES.sub(" ", _BIDI_CONTROLS.sub("", label)).strip()


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters: cut between words where that keeps most of it, with an ellipsis."""
    text = clean_label(text)
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit // 2 and text[limit - 1] != " ":
        cut = cut[:space]
    return cut.rstrip(" ,.;:-–") + ELLIPSIS


def unique_titles(labels: list[str], limit: int) -> list[str]:
    """Shortened titles, numbered where two would read the same (WhatsApp needs them unique)."""
    titles = [shorten(label, limit) for label in labels]
    folded = [t.casefold() for t in titles]
    seen: dict[str, int] = {}
    for i, title in enumerate(titles):
        if folded.count(title.casefold()) > 1:
            n = seen[title.casefold()] = seen.get(title.casefold(), 0) + 1
            suffix = f" ({n})"
            titles[i] = shorten(labels[i], limit - len(suffix)) + suffix
    return titles


def template_param(text: str) -> str:
    """A template parameter: one line, no tabs or runs of spaces, short."""
    return shorten(text, MAX_TEMPLATE_PARAM) or "…"


def subject_of(message: Outbound) -> str:
    """The first line worth showing of a message, for the "you have a message" template.

    A poll's question says what it is about; its text is only how to vote."""
    if message.kind is OutKind.POLL and message.poll is not None and clean_label(message.poll.question):
        return template_param(message.poll.question)
    for line in message.text.split("\n"):
        if clean_label(line):
            return template_param(line)
    if message.poll is not None:
        return template_param(message.poll.question)
    if message.file is not None:
        return template_param(message.file.name)
    return "…"


# -- plans ------------------------------------------------------------------------------------


def _body_and_preamble(text: str, rtl: bool) -> tuple[list[Part], str]:
    """An interactive body of at most 1024 characters; what comes before it goes as text."""
    pieces = split_text(text, MAX_BODY)
    if len(pieces) <= 1:
        return [], directed(pieces[0], rtl) if pieces else ""
    before = "\n".join(pieces[:-1])
    return [TextPart(directed(p, rtl)) for p in split_text(before, MAX_TEXT)], directed(pieces[-1], rtl)


def _menu_text(message: Outbound) -> str:
    text = message.text
    if message.kind is OutKind.POLL and message.poll is not None and message.poll.question not in text:
        text = f"{text}\n\n{message.poll.question}" if text.strip() else message.poll.question
    return text


def plan(message: Outbound, labels: Labels) -> list[Part]:
    """What to send, in order, for one core message."""
    rtl = message.rtl
    if message.kind is OutKind.STOP_POLL:
        return []
    if message.kind is OutKind.FILE and message.file is not None:
        if len(message.text) <= MAX_CAPTION:
            return [DocumentPart(message.file, directed(message.text, rtl))]
        texts: list[Part] = [TextPart(directed(p, rtl)) for p in split_text(message.text)]
        return [*texts, DocumentPart(message.file, "")]
    buttons = message.all_buttons
    if not buttons:
        if message.kind is OutKind.POLL and message.poll is not None:
            return numbered(message, labels, options=message.poll.options)
        return [TextPart(directed(p, rtl)) for p in split_text(message.text)]
    parts, body = _body_and_preamble(_menu_text(message), rtl)
    body = body or labels.choose
    is_poll = message.kind is OutKind.POLL
    clean = [clean_label(b.label) for b in buttons]
    if not is_poll and len(buttons) <= MAX_BUTTONS and all(0 < len(c) <= MAX_BUTTON_TITLE for c in clean):
        titles = unique_titles([b.label for b in buttons], MAX_BUTTON_TITLE)
        parts.append(ButtonsPart(body, [(b.token, t) for b, t in zip(buttons, titles, strict=True)]))
        return parts
    shown, rest = (buttons, []) if len(buttons) <= MAX_ROWS else (buttons[: MAX_ROWS - 1], buttons[MAX_ROWS - 1 :])
    titles = unique_titles([b.label for b in shown], MAX_ROW_TITLE)
    rows = [
        Row(
            b.token, title, shorten(b.label, MAX_ROW_DESCRIPTION) if len(clean_label(b.label)) > MAX_ROW_TITLE else None
        )
        for b, title in zip(shown, titles, strict=True)
    ]
    button = shorten(labels.vote if is_poll else labels.options, MAX_LIST_BUTTON)
    parts.append(ListPart(body, button, rows, rest))
    return parts


def next_page(message: Outbound, rest: list[Button], labels: Labels) -> Outbound:
    """The message behind a "More…" row: the same kind of menu with the options that did not fit."""
    return Outbound(
        kind=message.kind if message.kind is OutKind.POLL else OutKind.CHOICES,
        text=labels.more_body,
        rtl=message.rtl,
        buttons=[[b] for b in rest],
        poll=message.poll,
    )


def numbered(message: Outbound, labels: Labels, *, options: list[str] | None = None) -> list[Part]:
    """The last resort: the options as a numbered list in plain text (a typed number picks one)."""
    names = options if options is not None else [b.label for b in message.all_buttons]
    lines = [_menu_text(message).strip()] if _menu_text(message).strip() else []
    lines += [f"{i}. {clean_label(name)}" for i, name in enumerate(names, 1)]
    if message.all_buttons:
        lines.append(labels.reply_with_number)
    return [TextPart(directed(p, message.rtl)) for p in split_text("\n".join(lines))]
