"""A fake WhatsApp Cloud API (Meta's Graph API) for tests: a real aiohttp server on 127.0.0.1.

Point the bot at it (``WHATSAPP_API_BASE=fake.base_url``, ``WHATSAPP_TOKEN=fake.token``,
``WHATSAPP_PHONE_ID=fake.phone_id``, ``WHATSAPP_APP_SECRET=fake.app_secret``) and drive it:

    async with FakeWhatsApp() as fake:
        fake.webhook_url = "http://127.0.0.1:8080/webhooks/whatsapp"   # where our server listens
        dana = fake.user("Dana")                          # a business-scoped user id and a phone number
        assert await fake.send_text(dana, "/start CODE") == 200   # a signed webhook delivery, POSTed
        reply = await fake.wait_for(lambda m: m.to is dana and "שפה" in m.text)
        await fake.press(dana, "עברית")                   # taps a reply button / list row / quick reply

What it enforces, like the real API: the bearer token; message shapes and lengths (text 4096,
interactive body 1024, 1–3 reply buttons with unique titles ≤ 20, lists of ≤ 10 rows with titles
≤ 24 and descriptions ≤ 72, captions 1024) → 131009; free-form messages only within 24 hours of
the user's last message → 131047 (templates always pass); the number's throughput → 130429; the
pair rate to one user (a burst, then one per 6 s) → 131056; templates must exist, be approved and
get the right parameters → 132001 / 132000. Time is the fake's own ``clock`` (a :class:`FakeClock`
tests move). ``fail_next(code)`` injects any error. Everything sent is recorded in ``sent``.

Every instance is independent (no module state), so tests may run several at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from tests.fakes.loopback import LoopbackServer

JSONDict = dict[str, Any]

MAX_TEXT = 4096
MAX_BODY = 1024
MAX_CAPTION = 1024
MAX_HEADER_FOOTER = 60
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_BUTTON_ID = 256
MAX_ROWS = 10
MAX_SECTIONS = 10
MAX_ROW_TITLE = 24
MAX_ROW_ID = 200
MAX_ROW_DESCRIPTION = 72
MAX_LIST_BUTTON = 20
MAX_SECTION_TITLE = 24
MAX_QUICK_REPLY = 25
WINDOW_SECONDS = 24 * 3600
TEMPLATE_LANGUAGES = frozenset({"he", "ar", "en", "en_US", "en_GB"})
_PLACEHOLDER = re.compile(r"\{\{(\d+)\}\}")

ERRORS = {
    100: "Invalid parameter",
    190: "Invalid OAuth access token - Cannot parse access token",
    130429: "Rate limit hit",
    131000: "Something went wrong",
    131009: "Parameter value is not valid",
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template name does not exist in the translation",
}


class FakeClock:
    """Seconds since the epoch that only move when a test says so."""

    def __init__(self, start: float | None = None) -> None:
        # The wall clock when made: Meta stamps deliveries with the real time, and the bot refuses
        # one older than its replay window.
        self.now = float(int(time.time())) if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class GraphError(Exception):
    def __init__(self, code: int, details: str = "", *, status: int = 400) -> None:
        super().__init__(f"{code} {details}")
        self.code, self.details, self.status = code, details, status

    def payload(self) -> JSONDict:
        return {
            "error": {
                "message": f"({'#' + str(self.code)}) {ERRORS.get(self.code, 'Error')}",
                "type": "OAuthException",
                "code": self.code,
                "error_data": {"messaging_product": "whatsapp", "details": self.details or ERRORS.get(self.code, "")},
                "fbtrace_id": uuid.uuid4().hex[:22],
            }
        }


def _invalid(details: str) -> GraphError:
    return GraphError(131009, details)


@dataclass(eq=False)
class FakeUser:
    name: str
    bsuid: str
    wa_id: str | None
    last_inbound: float | None = None  # fake clock; opens the 24-hour window

    @property
    def key(self) -> str:
        return self.bsuid or self.wa_id or ""


@dataclass(frozen=True)
class UploadedMedia:
    id: str
    filename: str
    mime: str
    content: bytes


@dataclass
class Request:
    """One call the bot made, with the answer it got."""

    path: str
    body: JSONDict
    at: float
    status: int = 0
    error: int | None = None


@dataclass
class Sent:
    """A message the fake accepted."""

    to: FakeUser
    type: str
    payload: JSONDict
    wamid: str
    at: float
    media: UploadedMedia | None = None
    rendered: str = ""  # a template's body with its parameters filled in
    quick_replies: list[tuple[str, str]] = field(default_factory=list)  # a template's (button text, payload)

    @property
    def interactive(self) -> JSONDict:
        return self.payload.get("interactive") or {}

    @property
    def text(self) -> str:
        if self.type == "text":
            return str(self.payload["text"]["body"])
        if self.type == "interactive":
            return str((self.interactive.get("body") or {}).get("text", ""))
        if self.type == "document":
            return str(self.payload["document"].get("caption", ""))
        return self.rendered

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(id, title) of reply buttons."""
        if self.interactive.get("type") != "button":
            return []
        return [(b["reply"]["id"], b["reply"]["title"]) for b in self.interactive["action"]["buttons"]]

    @property
    def rows(self) -> list[tuple[str, str, str | None]]:
        """(id, title, description) of list rows."""
        if self.interactive.get("type") != "list":
            return []
        return [
            (r["id"], r["title"], r.get("description"))
            for s in self.interactive["action"]["sections"]
            for r in s["rows"]
        ]

    @property
    def list_button(self) -> str | None:
        return self.interactive["action"].get("button") if self.interactive.get("type") == "list" else None

    @property
    def template(self) -> JSONDict:
        return self.payload.get("template") or {}

    @property
    def titles(self) -> list[str]:
        return [t for _, t in self.buttons] + [t for _, t, _ in self.rows] + [t for t, _ in self.quick_replies]


@dataclass
class _Fault:
    code: int
    remaining: int
    to: FakeUser | None
    after: int = 0  # sends let through before it strikes


class _Bucket:
    """A token bucket on the fake clock."""

    def __init__(self, capacity: float, per_second: float, now: float) -> None:
        self.capacity, self.rate, self.tokens, self.at = capacity, per_second, capacity, now

    def take(self, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class FakeWhatsApp(LoopbackServer):
    """Fake Cloud API server. See the module docstring.

    ``per_second`` is the number's throughput, ``pair_burst`` and ``pair_interval`` the pace to one
    person; ``enforce_window=False`` lets free-form messages through outside the 24-hour window, and
    ``auto_approve=False`` leaves templates created through the API pending.
    """

    def __init__(
        self,
        *,
        token: str = "EAAfake-token",
        phone_id: str = "106540352242922",
        waba_id: str = "102290129340398",
        app_secret: str = "fake-app-secret",
        display_number: str = "972501234567",
        per_second: float = 80.0,
        pair_burst: int = 45,
        pair_interval: float = 6.0,
        enforce_window: bool = True,
        auto_approve: bool = True,
        clock: FakeClock | None = None,
    ) -> None:
        self.token, self.phone_id, self.waba_id = token, phone_id, waba_id
        self.app_secret, self.display_number = app_secret, display_number
        self.per_second, self.pair_burst, self.pair_interval = per_second, pair_burst, pair_interval
        self.enforce_window, self.auto_approve = enforce_window, auto_approve
        self.clock = clock or FakeClock()
        self.webhook_url: str | None = None

        self.requests: list[Request] = []
        self.sent: list[Sent] = []
        self.media: dict[str, UploadedMedia] = {}
        self.templates: dict[tuple[str, str], JSONDict] = {}  # (name, language) -> definition + status
        self.webhook_posts: list[tuple[JSONDict, int]] = []  # what we POSTed to the bot, and its answer
        self.users: dict[str, FakeUser] = {}
        self._faults: list[_Fault] = []
        self._garble: list[str] = []
        self._throughput = _Bucket(per_second, per_second, self.clock())
        self._pairs: dict[str, _Bucket] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_route("*", "/{version}/{node}/{edge}", self._handle)
        return app

    def settings(self) -> dict[str, str]:
        """The bot's settings for this fake (pass to ``Settings(**...)``)."""
        return {
            "WHATSAPP_TOKEN": self.token,
            "WHATSAPP_PHONE_ID": self.phone_id,
            "WHATSAPP_WABA_ID": self.waba_id,
            "WHATSAPP_APP_SECRET": self.app_secret,
            "WHATSAPP_VERIFY_TOKEN": "fake-verify-token",
            "WHATSAPP_API_BASE": self.base_url,
            "WHATSAPP_DISPLAY_NUMBER": self.display_number,
        }

    # -- people and templates ---------------------------------------------------------------------------

    def user(self, name: str, *, bsuid: str | None = None, wa_id: str | None = None, phone: bool = True) -> FakeUser:
        """A WhatsApp user with a business-scoped id (and a phone number unless ``phone=False``)."""
        n = next(self._ids)
        user = FakeUser(
            name=name,
            bsuid=bsuid if bsuid is not None else f"IL.{1_000_000_000_000 + n}",
            wa_id=wa_id if wa_id is not None else (f"97250{1000000 + n}" if phone else None),
        )
        for key in (user.bsuid, user.wa_id):
            if key:
                self.users[key] = user
        return user

    def approve_templates(self, definitions: list[JSONDict]) -> None:
        """Register template definitions as approved (as if submitted and reviewed)."""
        for definition in definitions:
            self.templates[(definition["name"], definition["language"])] = {**definition, "status": "APPROVED"}

    def garble_next(self, how: str = "truncated", *, count: int = 1) -> None:
        """The next ``count`` sends are carried out (the message reaches the person) but their 200
        reply is unreadable: ``truncated`` (cut short, the wamid still in it) or ``html`` (a proxy's page)."""
        self._garble += [how] * count

    def fail_next(self, code: int, *, count: int = 1, to: FakeUser | None = None, after: int = 0) -> None:
        """The next ``count`` sends (to ``to``, or to anyone) fail with ``code``, once ``after`` went through."""
        self._faults.append(_Fault(code, count, to, after))

    # -- what the bot sent ------------------------------------------------------------------------------

    def messages_to(self, user: FakeUser) -> list[Sent]:
        return [m for m in self.sent if m.to is user]

    async def wait_for(self, predicate: Callable[[Sent], bool], timeout: float = 10.0) -> Sent:
        """The first accepted message (oldest first) that satisfies ``predicate``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for message in self.sent:
                if predicate(message):
                    return message
            if loop.time() >= deadline:
                summary = "\n".join(f"  to {m.to.name}: {m.type} {m.text[:80]!r}" for m in self.sent[-10:])
                raise TimeoutError(f"no matching message within {timeout}s; last sent:\n{summary}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=max(0.01, deadline - loop.time()))

    async def next_to(self, user: FakeUser, after: int, timeout: float = 10.0) -> Sent:
        """The first message to ``user`` sent after ``after`` messages had been sent to them."""
        return await self.wait_for(lambda m: m.to is user and self.messages_to(user).index(m) >= after, timeout)

    # -- the API -----------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        node, edge = request.match_info["node"], request.match_info["edge"]
        record = Request(path=request.path, body={}, at=self.clock())
        self.requests.append(record)
        try:
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                raise GraphError(190, status=401)
            if request.method == "POST" and node == self.phone_id and edge == "messages":
                record.body = await request.json()
                result = self._send(record.body)
            elif request.method == "POST" and node == self.phone_id and edge == "media":
                result = await self._upload(request)
            elif request.method == "POST" and node == self.waba_id and edge == "message_templates":
                record.body = await request.json()
                result = self._create_template(record.body)
            else:
                raise GraphError(100, f"Unsupported request {request.method} {request.path}")
        except GraphError as exc:
            record.status, record.error = exc.status, exc.code
            return web.json_response(exc.payload(), status=exc.status)
        record.status = 200
        self._changed.set()
        if edge == "messages" and self._garble:
            how = self._garble.pop(0)
            text = json.dumps(result)[:-3] if how == "truncated" else "<html><body>OK</body></html>"
            return web.Response(status=200, text=text, content_type="application/json")
        return web.json_response(result)

    def _fault_for(self, user: FakeUser | None) -> int | None:
        for fault in self._faults:
            if fault.remaining > 0 and (fault.to is None or fault.to is user):
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.remaining -= 1
                return fault.code
        return None

    def _send(self, body: JSONDict) -> JSONDict:
        now = self.clock()
        if body.get("messaging_product") != "whatsapp":
            raise GraphError(100, "The parameter messaging_product is required.")
        address = body.get("recipient") or body.get("to")
        user = self.users.get(str(address)) if address else None
        fault = self._fault_for(user)
        if fault is not None:
            raise GraphError(fault, status=500 if fault == 131000 else 400)
        if not self._throughput.take(now):
            raise GraphError(130429)
        if user is None:
            raise GraphError(131026, f"Unknown recipient {address!r}")
        kind = body.get("type")
        content = self._check_content(kind, body)
        outside = user.last_inbound is None or now - user.last_inbound > WINDOW_SECONDS
        if kind != "template" and self.enforce_window and outside:
            raise GraphError(131047, "Message failed to send because more than 24 hours have passed")
        pair = self._pairs.setdefault(user.key, _Bucket(self.pair_burst, 1.0 / self.pair_interval, now))
        if not pair.take(now):
            raise GraphError(131056)
        wamid = f"wamid.{uuid.uuid4().hex.upper()}"
        self.sent.append(Sent(to=user, type=str(kind), payload=body, wamid=wamid, at=now, **content))
        message: JSONDict = {"id": wamid}
        if kind == "template":
            message["message_status"] = "accepted"
        contact: JSONDict = {"input": str(address), "user_id": user.bsuid}
        if user.wa_id:
            contact["wa_id"] = user.wa_id
        return {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]}

    def _check_content(self, kind: object, body: JSONDict) -> JSONDict:
        """Refuse a message the real API would refuse; else what its :class:`Sent` keeps beyond the payload."""
        if kind == "text":
            self._check_text(body.get("text") or {})
            return {}
        if kind == "interactive":
            self._check_interactive(body.get("interactive") or {})
            return {}
        if kind == "document":
            return {"media": self._check_document(body.get("document") or {})}
        if kind == "template":
            rendered, quick = self._check_template(body.get("template") or {})
            return {"rendered": rendered, "quick_replies": quick}
        raise GraphError(100, f"Unsupported message type {kind!r}")

    @staticmethod
    def _check_text(text: JSONDict) -> None:
        body = text.get("body")
        if not isinstance(body, str) or not body.strip():
            raise GraphError(100, "text.body is required")
        if len(body) > MAX_TEXT:
            raise _invalid(f"text.body is {len(body)} characters, more than {MAX_TEXT}")

    @staticmethod
    def _check_interactive(interactive: JSONDict) -> None:
        body = (interactive.get("body") or {}).get("text")
        if not isinstance(body, str) or not body.strip():
            raise GraphError(100, "interactive.body.text is required")
        if len(body) > MAX_BODY:
            raise _invalid(f"interactive.body.text is {len(body)} characters, more than {MAX_BODY}")
        for part in ("header", "footer"):
            if len(str((interactive.get(part) or {}).get("text", ""))) > MAX_HEADER_FOOTER:
                raise _invalid(f"{part} is longer than {MAX_HEADER_FOOTER}")
        action = interactive.get("action") or {}
        if interactive.get("type") == "button":
            buttons = action.get("buttons") or []
            if not 1 <= len(buttons) <= MAX_BUTTONS:
                raise _invalid(f"{len(buttons)} buttons: between 1 and {MAX_BUTTONS} are allowed")
            titles, ids = [], []
            for button in buttons:
                reply = button.get("reply") or {}
                title, id_ = str(reply.get("title", "")), str(reply.get("id", ""))
                if button.get("type") != "reply" or not 1 <= len(title) <= MAX_BUTTON_TITLE:
                    raise _invalid(f"button title {title!r} must be 1 to {MAX_BUTTON_TITLE} characters")
                if not 1 <= len(id_) <= MAX_BUTTON_ID:
                    raise _invalid("button id must be 1 to 256 characters")
                titles.append(title)
                ids.append(id_)
            if len(set(titles)) != len(titles) or len(set(ids)) != len(ids):
                raise _invalid("button titles and ids must be unique")
        elif interactive.get("type") == "list":
            button = str(action.get("button", ""))
            if not 1 <= len(button) <= MAX_LIST_BUTTON:
                raise _invalid(f"list button {button!r} must be 1 to {MAX_LIST_BUTTON} characters")
            sections = action.get("sections") or []
            if not 1 <= len(sections) <= MAX_SECTIONS:
                raise _invalid("a list needs 1 to 10 sections")
            rows = [row for section in sections for row in section.get("rows") or []]
            if not 1 <= len(rows) <= MAX_ROWS:
                raise _invalid(f"{len(rows)} rows: between 1 and {MAX_ROWS} are allowed in all")
            for section in sections:
                title = str(section.get("title", ""))
                if len(title) > MAX_SECTION_TITLE or (len(sections) > 1 and not title):
                    raise _invalid(f"section title {title!r} is not valid")
            ids = [str(r.get("id", "")) for r in rows]
            if len(set(ids)) != len(ids) or any(not 1 <= len(i) <= MAX_ROW_ID for i in ids):
                raise _invalid("row ids must be unique, 1 to 200 characters")
            for row in rows:
                title = str(row.get("title", ""))
                if not 1 <= len(title) <= MAX_ROW_TITLE:
                    raise _invalid(f"row title {title!r} must be 1 to {MAX_ROW_TITLE} characters")
                if len(str(row.get("description", ""))) > MAX_ROW_DESCRIPTION:
                    raise _invalid(f"row description is longer than {MAX_ROW_DESCRIPTION}")
        else:
            raise GraphError(100, f"Unsupported interactive type {interactive.get('type')!r}")

    def _check_document(self, document: JSONDict) -> UploadedMedia:
        if len(str(document.get("caption", ""))) > MAX_CAPTION:
            raise _invalid(f"document caption is longer than {MAX_CAPTION}")
        if "id" in document:
            media = self.media.get(str(document["id"]))
            if media is None:
                raise GraphError(100, f"Unknown media id {document['id']}")
            return media
        if "link" in document:
            return UploadedMedia("", str(document.get("filename", "")), "", b"")
        raise GraphError(100, "document needs an id or a link")

    def _check_template(self, template: JSONDict) -> tuple[str, list[tuple[str, str]]]:
        name, language = template.get("name"), (template.get("language") or {}).get("code")
        definition = self.templates.get((str(name), str(language)))
        if definition is None or definition.get("status") != "APPROVED":
            raise GraphError(132001, f"template {name!r} in {language!r} does not exist or is not approved")
        components = {c["type"]: c for c in definition["components"]}
        given = template.get("components") or []
        body_params = [p for c in given if c.get("type") == "body" for p in c.get("parameters") or []]
        body_text = str(components.get("BODY", {}).get("text", ""))
        wanted = len(set(_PLACEHOLDER.findall(body_text)))
        if len(body_params) != wanted:
            raise GraphError(132000, f"body needs {wanted} parameters, got {len(body_params)}")
        values = []
        for param in body_params:
            text = str(param.get("text", ""))
            if not text.strip() or "\n" in text or "\t" in text or "     " in text:
                raise _invalid("a template parameter must be one non-empty line without tabs or runs of spaces")
            values.append(text)
        rendered = _PLACEHOLDER.sub(lambda m: values[int(m.group(1)) - 1], body_text)
        defined = (components.get("BUTTONS") or {}).get("buttons") or []
        quick: list[tuple[str, str]] = []
        for component in given:
            if component.get("type") != "button":
                continue
            index = int(component.get("index", -1))
            if not 0 <= index < len(defined) or defined[index]["type"] != "QUICK_REPLY":
                raise GraphError(132000, f"the template has no quick-reply button {index}")
            if component.get("sub_type") != "quick_reply":
                raise _invalid("button sub_type must be quick_reply")
            payload = str(((component.get("parameters") or [{}])[0]).get("payload", ""))
            if not payload:
                raise _invalid("a quick-reply payload is required")
            quick.append((defined[index]["text"], payload))
        return rendered, quick

    async def _upload(self, request: web.Request) -> JSONDict:
        form = await request.post()
        if form.get("messaging_product") != "whatsapp":
            raise GraphError(100, "The parameter messaging_product is required.")
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise GraphError(100, "file is required")
        content = upload.file.read()
        if not content:
            raise GraphError(100, "file is empty")
        media = UploadedMedia(
            id=str(4_000_000_000 + next(self._ids)),
            filename=upload.filename,
            mime=str(form.get("type") or upload.content_type),
            content=content,
        )
        self.media[media.id] = media
        return {"id": media.id}

    def _create_template(self, body: JSONDict) -> JSONDict:
        name, language, category = body.get("name"), body.get("language"), body.get("category")
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,512}", name):
            raise GraphError(100, "template name must be lowercase letters, digits and underscores")
        if language not in TEMPLATE_LANGUAGES:
            raise GraphError(100, f"unsupported language {language!r}")
        if category not in ("UTILITY", "MARKETING", "AUTHENTICATION"):
            raise GraphError(100, f"invalid category {category!r}")
        if (name, language) in self.templates:
            raise GraphError(100, "Content in this language already exists")
        components = body.get("components") or []
        kinds = [c.get("type") for c in components]
        if kinds.count("BODY") != 1:
            raise GraphError(100, "a template needs one BODY")
        for component in components:
            if component["type"] == "BODY":
                text = str(component.get("text", ""))
                numbers = sorted({int(n) for n in _PLACEHOLDER.findall(text)})
                if len(text) > MAX_BODY or numbers != list(range(1, len(numbers) + 1)):
                    raise GraphError(100, "body text is too long or its parameters are not {{1}}..{{n}}")
                if text.lstrip().startswith("{{") or text.rstrip().endswith("}}"):
                    raise GraphError(100, "body text cannot start or end with a parameter")
                examples = ((component.get("example") or {}).get("body_text") or [[]])[0]
                if numbers and len(examples) != len(numbers):
                    raise GraphError(100, "body text needs an example for each parameter")
            elif component["type"] == "FOOTER" and len(str(component.get("text", ""))) > MAX_HEADER_FOOTER:
                raise GraphError(100, "footer is longer than 60 characters")
            elif component["type"] == "BUTTONS":
                buttons = component.get("buttons") or []
                if not 1 <= len(buttons) <= 10:
                    raise GraphError(100, "1 to 10 buttons")
                for button in buttons:
                    if button.get("type") == "QUICK_REPLY" and not 1 <= len(button.get("text", "")) <= MAX_QUICK_REPLY:
                        raise GraphError(100, "quick-reply text must be 1 to 25 characters")
        status = "APPROVED" if self.auto_approve else "PENDING"
        self.templates[(name, language)] = {**body, "status": status}
        return {"id": str(1_500_000_000 + next(self._ids)), "status": status, "category": category}

    # -- webhook deliveries -------------------------------------------------------------------------------

    def sign(self, body: bytes, secret: str | None = None) -> str:
        digest = hmac.new((secret or self.app_secret).encode("utf-8"), body, hashlib.sha256).hexdigest()
        return f"sha256={digest}"

    def delivery(
        self, *, messages: list[tuple[FakeUser, JSONDict]] | None = None, statuses: list[JSONDict] | None = None
    ) -> JSONDict:
        """A webhook body with these messages (each from its user) and statuses, as Meta sends it."""
        messages, statuses = messages or [], statuses or []
        contacts, seen = [], set()
        for user, _ in messages:
            if user.key not in seen:
                seen.add(user.key)
                contact: JSONDict = {"profile": {"name": user.name}, "user_id": user.bsuid}
                if user.wa_id:
                    contact["wa_id"] = user.wa_id
                contacts.append(contact)
        value: JSONDict = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": self.display_number, "phone_number_id": self.phone_id},
        }
        if messages:
            value["contacts"] = contacts
            value["messages"] = [m for _, m in messages]
        if statuses:
            value["statuses"] = list(statuses)
        return {
            "object": "whatsapp_business_account",
            "entry": [{"id": self.waba_id, "changes": [{"value": value, "field": "messages"}]}],
        }

    def _message(self, user: FakeUser, kind: str, content: JSONDict, context: str | None = None) -> JSONDict:
        user.last_inbound = self.clock()
        message: JSONDict = {
            "from": user.wa_id or "",
            "from_user_id": user.bsuid,
            "id": f"wamid.{uuid.uuid4().hex.upper()}",
            "timestamp": str(int(self.clock())),
            "type": kind,
            **content,
        }
        if not user.wa_id:
            message.pop("from")
        if context:
            message["context"] = {"from": self.display_number, "id": context}
        return message

    def text(self, user: FakeUser, body: str) -> JSONDict:
        return self.delivery(messages=[(user, self._message(user, "text", {"text": {"body": body}}))])

    def button_reply(self, user: FakeUser, id_: str, title: str, context: str | None = None) -> JSONDict:
        content = {"interactive": {"type": "button_reply", "button_reply": {"id": id_, "title": title}}}
        return self.delivery(messages=[(user, self._message(user, "interactive", content, context))])

    def list_reply(
        self, user: FakeUser, id_: str, title: str, description: str | None = None, context: str | None = None
    ) -> JSONDict:
        reply: JSONDict = {"id": id_, "title": title}
        if description:
            reply["description"] = description
        content = {"interactive": {"type": "list_reply", "list_reply": reply}}
        return self.delivery(messages=[(user, self._message(user, "interactive", content, context))])

    def quick_reply(self, user: FakeUser, payload: str, text: str, context: str | None = None) -> JSONDict:
        content = {"button": {"payload": payload, "text": text}}
        return self.delivery(messages=[(user, self._message(user, "button", content, context))])

    def status(self, sent: Sent, status: str = "failed", *, code: int | None = None) -> JSONDict:
        item: JSONDict = {
            "id": sent.wamid,
            "status": status,
            "timestamp": str(int(self.clock())),
            "recipient_id": sent.to.wa_id or "",
            "recipient_user_id": sent.to.bsuid,
        }
        if code is not None:
            item["errors"] = [{"code": code, "title": ERRORS.get(code, "Error"), "message": ERRORS.get(code, "")}]
        return self.delivery(statuses=[item])

    async def post(
        self,
        payload: JSONDict | bytes,
        *,
        signature: str | bool | None = True,
        url: str | None = None,
    ) -> int:
        """POST a delivery to the bot's webhook, signed with the app secret (or ``signature`` as given)."""
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if signature is True:
            headers["X-Hub-Signature-256"] = self.sign(body)
        elif isinstance(signature, str):
            headers["X-Hub-Signature-256"] = signature
        target = url or self.webhook_url
        assert target, "set fake.webhook_url to the bot's webhook first"
        async with (
            ClientSession(timeout=ClientTimeout(total=10)) as session,
            session.post(target, data=body, headers=headers) as response,
        ):
            status = response.status
        self.webhook_posts.append((json.loads(body) if body.startswith(b"{") else {}, status))
        return status

    async def send_text(self, user: FakeUser, body: str) -> int:
        return await self.post(self.text(user, body))

    async def press(self, user: FakeUser, title: str, message: Sent | None = None) -> int:
        """Tap the button, list row or quick reply titled ``title`` on the latest message to ``user`` that has it."""
        candidates = [message] if message is not None else list(reversed(self.messages_to(user)))
        for sent in candidates:
            for id_, button_title in sent.buttons:
                if button_title == title:
                    return await self.post(self.button_reply(user, id_, title, sent.wamid))
            for id_, row_title, description in sent.rows:
                if row_title == title:
                    return await self.post(self.list_reply(user, id_, title, description, sent.wamid))
            for text, payload in sent.quick_replies:
                if text == title:
                    return await self.post(self.quick_reply(user, payload, text, sent.wamid))
        raise AssertionError(f"no button {title!r} on the messages to {user.name}")
