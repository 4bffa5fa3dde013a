"""How dates, options and roles read in each language (polls and meetings).

Shared by the services that write to people and by the handlers that reply to them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from babel.dates import format_date

from bot.domain.calendar import HolidayName, Reason, format_meeting_option, territory_locale
from bot.domain.roles import UnknownRole, get_role
from bot.domain.tiers import ForumKind, Tier
from bot.i18n import N_, Raw, Translator
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


# The same wording as handlers.common.FORUM_TITLES (services do not import handlers).
FORUM_TITLES: dict[str, str] = {
    ForumKind.MAIN: N_("the partners forum of {unit}"),
    ForumKind.CROSSCUT: N_("the cross-cutting forum of {unit}"),
    ForumKind.PARTNERSHIP: N_("the tri-sector partnership of {unit}"),
}


def forum_name(t: Translator, forum: Forum, unit: OrgUnit) -> str:
    """"the partners forum of Alonim school" in the reader's language."""
    name = unit.name_en if t.locale == "en" and unit.name_en else unit.name
    return t._(FORUM_TITLES.get(forum.kind, FORUM_TITLES[ForumKind.MAIN]), unit=name)


def role_label(t: Translator, unit: OrgUnit, forum: Forum, role: str) -> str:
    try:
        return get_role(Tier(unit.tier), forum.kind, role).name(t.locale)
    except UnknownRole:
        return role


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
