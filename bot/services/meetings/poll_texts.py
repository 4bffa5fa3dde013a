"""How dates, options and roles read in each language (polls and meetings).

Shared by the services that write to people and by the handlers that reply to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from babel.dates import format_date

from bot.domain.calendar import HolidayName, Reason, format_meeting_option, territory_locale
from bot.i18n import N_, Raw, Translator
from bot.services.texts import forum_title
from bot.services.texts import role_label as agenda_role_label
from bot.storage.models import Forum, OrgUnit

REASON_WORDS: dict[Reason, str] = {
    Reason.SHABBAT: N_("Shabbat"),
    Reason.WEEKEND: N_("Friday"),
}


def option_label(t: Translator, starts_at: datetime) -> str:
    """The long form: "יום ג׳, 12 בינואר 2027 · ד׳ בשבט תשפ״ז · 17:00"."""
    local = starts_at.astimezone(t.tz)
    return format_meeting_option(local.date(), t.locale, local.time())


def short_label(t: Translator, starts_at: datetime) -> str:
    """For buttons: "יום ג׳ 12.1 · 17:00"."""
    local = starts_at.astimezone(t.tz)
    day = format_date(local.date(), "EEE d.M", locale=territory_locale(t.locale))
    return f"{day} · {local.hour:02d}:{local.minute:02d}"


def day_label(t: Translator, day: date) -> str:
    return format_date(day, "EEE d.M", locale=territory_locale(t.locale))


def when(t: Translator, moment: datetime) -> str:
    """A deadline or a reminder time: "יום רביעי, 25 בנובמבר 2026 בשעה 12:00"."""
    return t._("{date} at {time}", date=Raw(t.date(moment)), time=Raw(t.time(moment)))


# One definition of a forum's and a role's name (bot.services.texts), under the names the
# poll code uses.
forum_name = forum_title


def role_label(t: Translator, unit: OrgUnit, forum: Forum, role: str) -> str:
    return agenda_role_label(t, unit, forum, role)


def role_list(t: Translator, unit: OrgUnit, forum: Forum, roles: Iterable[str]) -> str:
    return t.join(sorted(role_label(t, unit, forum, role) for role in set(roles)))


def why_not(t: Translator, reasons: Iterable[Reason], names: Iterable[HolidayName]) -> str:
    """Why a day is not a meeting day, in words: "שבת", "ערב יום הכיפורים", "חופשת חנוכה"."""
    words = [t._(REASON_WORDS[reason]) for reason in reasons if reason in REASON_WORDS]
    words += [name.label(t.locale) for name in names]
    return t.join(dict.fromkeys(words))


@dataclass(frozen=True)
class DayReasons:
    """Why a day is closed, kept as data in a refusal and worded for its reader."""

    reasons: tuple[Reason, ...]
    names: tuple[HolidayName, ...]


def present(t: Translator, value: object) -> object:
    """A refusal's parameter as the reader should see it."""
    if isinstance(value, DayReasons):
        return Raw(why_not(t, value.reasons, value.names))
    if isinstance(value, datetime):
        return Raw(when(t, value))
    if isinstance(value, date):
        return Raw(t.date(value))
    return value
