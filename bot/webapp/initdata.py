"""Telegram Mini App ``initData``: checked exactly as Telegram specifies.

https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app — the
data-check-string is every received field but ``hash``, sorted, as ``key=value`` lines; the key is
HMAC-SHA256 of the bot token keyed with ``"WebAppData"``; the hash is HMAC-SHA256 of the string
under that key, in hex. ``auth_date`` must be recent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode


class InvalidInitData(Exception):
    """Forged, malformed or stale: the request gets 401."""


@dataclass(frozen=True)
class TelegramUser:
    id: int
    language_code: str | None
    fields: dict[str, Any]


def _secret(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def _check_string(pairs: dict[str, str]) -> str:
    return "\n".join(f"{k}={pairs[k]}" for k in sorted(pairs) if k != "hash")


def validate(init_data: str, bot_token: str, *, max_age: int, now: float | None = None) -> TelegramUser:
    if not bot_token or not init_data or len(init_data) > 8192:
        raise InvalidInitData("missing")
    try:
        pairs = dict(parse_qsl(init_data, keep_blank_values=True, strict_parsing=True))
    except ValueError as exc:
        raise InvalidInitData("malformed") from exc
    given = pairs.get("hash", "")
    expected = hmac.new(_secret(bot_token), _check_string(pairs).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise InvalidInitData("bad signature")
    try:
        auth_date = int(pairs["auth_date"])
        user = json.loads(pairs["user"])
        user_id = int(user["id"])
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInitData("incomplete") from exc
    current = time.time() if now is None else now
    if auth_date > current + 60 or current - auth_date > max_age:
        raise InvalidInitData("stale")
    language = user.get("language_code")
    return TelegramUser(id=user_id, language_code=language if isinstance(language, str) else None, fields=user)


def sign(fields: dict[str, str], bot_token: str) -> str:
    """``initData`` as Telegram would send it (for tests, the benchmark and local development)."""
    pairs = dict(fields)
    pairs["hash"] = hmac.new(_secret(bot_token), _check_string(pairs).encode(), hashlib.sha256).hexdigest()
    return urlencode(pairs)
