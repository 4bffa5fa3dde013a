"""The one inbound event type and the one outbound message type every channel speaks.

Adapters turn native updates into :class:`Inbound` and render :class:`Outbound` natively:
Telegram inline keyboards and polls, WhatsApp buttons and lists, numbered options on a console.
Buttons carry only an opaque token that the server resolves; nothing a client sends back is
trusted as an id of a forum or a person.
"""

from __future__ import annotations

import base64
from copy import deepcopy
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class EventKind(StrEnum):
    TEXT = "text"
    COMMAND = "command"
    CHOICE = "choice"
    POLL_ANSWER = "poll_answer"
    GROUP_JOINED = "group_joined"
    GROUP_LEFT = "group_left"


@dataclass(frozen=True)
class Inbound:
    channel: str
    user_id: str
    chat_id: str
    kind: EventKind
    text: str = ""
    command: str = ""
    args: str = ""
    token: str = ""
    poll_ref: str = ""
    option_ids: tuple[int, ...] = ()
    update_key: str = ""
    is_group: bool = False
    chat_title: str = ""
    language_hint: str | None = None
    message_ref: str | None = None
    phone: str | None = None


class OutKind(StrEnum):
    TEXT = "text"
    CHOICES = "choices"
    POLL = "poll"
    FILE = "file"
    STOP_POLL = "stop_poll"  # close a native poll sent earlier (edit_ref = its message id)


@dataclass
class Button:
    token: str
    label: str
    # A web page to open instead of a choice to send back: Telegram opens it as a Mini App (with the
    # signed initData), so it must be https. Only Telegram recipients are given such buttons.
    url: str = ""


@dataclass
class PollSpec:
    question: str
    options: list[str]
    multiple: bool = True
    correlation: str = ""  # what the poll is, e.g. "datepoll:12"; stored with the channel's poll id
    close_at: str | None = None  # ISO datetime; informational for channels that show it


@dataclass
class FileSpec:
    name: str  # in the reader's language
    mime: str
    data_b64: str
    ascii_name: str = ""  # for a channel that cannot carry anything but ASCII in a file name

    @classmethod
    def of(cls, name: str, mime: str, data: bytes, ascii_name: str = "") -> FileSpec:
        return cls(name=name, mime=mime, data_b64=base64.b64encode(data).decode("ascii"), ascii_name=ascii_name)

    @property
    def safe_name(self) -> str:
        """The name when it is ASCII already, else the ASCII fallback."""
        if self.name.isascii():
            return self.name
        if self.ascii_name:
            return self.ascii_name
        return "file" + (f".{self.name.rsplit('.', 1)[1]}" if "." in self.name else "")

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.data_b64)


@dataclass
class Outbound:
    kind: OutKind
    text: str
    rtl: bool = True
    buttons: list[list[Button]] = field(default_factory=list)
    poll: PollSpec | None = None
    file: FileSpec | None = None
    edit_ref: str | None = None
    template: dict[str, Any] | None = None  # a channel template to use outside a service window
    parts_sent: int = 0  # a channel that sends it in several parts resumes after these (set on a retry)

    def to_json(self) -> dict[str, Any]:
        # By hand rather than dataclasses.asdict, which deep-copies every value on the way (a
        # tenth of a millisecond a reply); the keys are asdict's, which from_json reads.
        data: dict[str, Any] = {
            "kind": self.kind, "text": self.text, "rtl": self.rtl,
            "buttons": [[{"token": b.token, "label": b.label, "url": b.url} for b in row] for row in self.buttons],
            "poll": None if self.poll is None else {
                "question": self.poll.question, "options": list(self.poll.options), "multiple": self.poll.multiple,
                "correlation": self.poll.correlation, "close_at": self.poll.close_at},
            "file": None if self.file is None else {
                "name": self.file.name, "mime": self.file.mime, "data_b64": self.file.data_b64,
                "ascii_name": self.file.ascii_name},
            "edit_ref": self.edit_ref,
            "template": None if self.template is None else deepcopy(self.template),
        }
        if self.parts_sent:
            data["parts_sent"] = self.parts_sent
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outbound:
        return cls(
            kind=OutKind(data["kind"]),
            text=data.get("text", ""),
            rtl=data.get("rtl", True),
            buttons=[[Button(**b) for b in row] for row in data.get("buttons", [])],
            poll=PollSpec(**data["poll"]) if data.get("poll") else None,
            file=FileSpec(**data["file"]) if data.get("file") else None,
            edit_ref=data.get("edit_ref"),
            template=data.get("template"),
            parts_sent=int(data.get("parts_sent") or 0),
        )

    @property
    def all_buttons(self) -> list[Button]:
        return [b for row in self.buttons for b in row]


@dataclass
class SendResult:
    message_id: str | None = None
    poll_id: str | None = None


class DeliveryError(Exception):
    """Base of the errors a sender reports to the delivery path.

    ``parts_sent``: how many parts of a message sent in several went out before the error; the
    delivery path keeps it with the message, so that a retry does not send them again."""

    parts_sent: int = 0


class RetryAfter(DeliveryError):
    """Slow down: the whole channel (a bot-wide 429), or only this chat (WhatsApp's pair rate)."""

    def __init__(self, seconds: float, *, chat_only: bool = False) -> None:
        super().__init__(f"retry after {seconds}s")
        self.seconds = seconds
        self.chat_only = chat_only


class TransientError(DeliveryError):
    """Worth retrying with backoff (5xx, timeouts, network)."""


class PermanentError(DeliveryError):
    """Never worth retrying (blocked, chat not found, bad request)."""

    def __init__(self, reason: str, *, identity_unreachable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.identity_unreachable = identity_unreachable


class Sender(Protocol):
    channel: str

    async def send(self, chat_id: str, message: Outbound) -> SendResult: ...
