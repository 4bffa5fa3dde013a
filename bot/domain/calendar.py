"""The Israeli calendar for forums: working days, meeting dates and Hebrew dates.

Pure rules, no I/O except reading the packaged ``bot/data/school_vacations.csv``.

Where the days come from
    * Jewish holidays, their eves, chol hamoed, fast days, Yom HaShoah, Yom HaZikaron and
      Yom HaAtzmaut: ``hdate`` (Israel, not diaspora), which applies the postponement rules
      (Tisha B'Av nidche, Ta'anit Esther on Thursday, Yom HaZikaron/HaAtzmaut moves, ...).
    * Muslim and Christian holidays: the ``holidays`` package's Islamic and Christian calendars.
      Islamic dates are astronomical *estimates*; the real day can move by one.
    * Druze: Eid al-Adha from the Islamic calendar plus the fixed Druze dates below (no library
      has them).
    * The Ministry of Education's school vacations: the CSV, maintained by admins.

Decisions (see also the constructor's docstring)
    * The work week is Sunday–Thursday: Friday is ``weekend``, Saturday ``shabbat``.
    * Non-working and never proposed for a meeting: Rosh Hashana (both days) and every Yom Tov
      (Yom Kippur, Sukkot, Shemini Atzeret/Simchat Torah, Pesach I and VII, Shavuot), the eve of
      each (``holiday_eve``; Hoshana Raba and 20 Nisan are also ``chol_hamoed``), chol hamoed
      Sukkot and Pesach, the five public fasts (Tzom Gedalia, 10 Tevet, Ta'anit Esther,
      17 Tammuz, Tisha B'Av), Yom HaShoah and Yom HaZikaron (``memorial``), Yom HaAtzmaut.
    * Purim (14 Adar) is non-working everywhere: schools close and people are with their
      families. Shushan Purim (15 Adar) is non-working only for a calendar built with
      ``jerusalem=True``; elsewhere it is an ordinary day, though the school Purim vacation
      (CSV) covers it when school vacations are on.
    * Hanukkah, Tu BiShvat, Lag BaOmer and Yom Yerushalayim are ordinary working days; their
      names still appear in :attr:`DayInfo.names`. Hanukkah and Lag BaOmer fall inside school
      vacations (CSV). Rosh Chodesh and the minor memorial days (Rabin, Jabotinsky, ...) are
      ignored.
    * Jewish and national days always apply: Observance.JEWISH is implied in every calendar.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, time, timedelta
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Literal, NamedTuple

from babel.dates import format_date
from hdate import HebrewDate, Months
from hdate.holidays import HolidayDatabase, HolidayTypes
from holidays.calendars.julian import JULIAN_CALENDAR
from holidays.groups.christian import ChristianHolidays
from holidays.groups.islamic import IslamicHolidays
from holidays.holiday_base import HolidayBase
from pyluach import dates as pyluach_dates
from pyluach import utils as pyluach_utils

from bot.i18n import levantine

__all__ = [
    "FRIDAY",
    "MONDAY",
    "SATURDAY",
    "SUNDAY",
    "THURSDAY",
    "TUESDAY",
    "WEDNESDAY",
    "WORK_WEEK",
    "Cadence",
    "DayInfo",
    "HolidayName",
    "IsraeliCalendar",
    "Observance",
    "Reason",
    "SchoolVacation",
    "format_meeting_option",
    "hebrew_date_str",
    "load_school_vacations",
    "parse_school_vacations",
    "territory_locale",
    "usual_school_vacations",
]

# Python's numbering (``date.weekday()``): Monday is 0, Sunday is 6.
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY = range(7)
WORK_WEEK: tuple[int, ...] = (SUNDAY, MONDAY, TUESDAY, WEDNESDAY, THURSDAY)
_WORK_WEEK_SET = frozenset(WORK_WEEK)

Cadence = Literal["weekly", "monthly"]


class Observance(StrEnum):
    """Holiday calendars a forum respects (its values match the sectors' observance strings)."""

    JEWISH = "jewish"
    MUSLIM = "muslim"
    CHRISTIAN = "christian"
    DRUZE = "druze"


class Reason(StrEnum):
    """Why a day is not a working day (a ``str``: ``"fast" in info.reasons`` works)."""

    SHABBAT = "shabbat"
    WEEKEND = "weekend"
    HOLIDAY = "holiday"
    HOLIDAY_EVE = "holiday_eve"
    FAST = "fast"
    CHOL_HAMOED = "chol_hamoed"
    MEMORIAL = "memorial"
    SCHOOL_VACATION = "school_vacation"
    MUSLIM_HOLIDAY = "muslim_holiday"
    CHRISTIAN_HOLIDAY = "christian_holiday"
    DRUZE_HOLIDAY = "druze_holiday"


class HolidayName(NamedTuple):
    """A day's name in Hebrew, English and Arabic, with a stable key (``names[0][:2]`` is he, en)."""

    he: str
    en: str
    ar: str
    key: str

    def label(self, locale: str) -> str:
        lang = territory_locale(locale).split("_", 1)[0]
        return {"he": self.he, "ar": self.ar}.get(lang, self.en)


@dataclass(frozen=True)
class DayInfo:
    """What a day is. ``reasons`` is empty exactly when ``is_working_day``.

    ``names`` lists every observance known that day, including ones that do not stop work
    (Hanukkah, Lag BaOmer), in the calendar's selected observances and school vacations.
    """

    date: date
    is_working_day: bool
    reasons: tuple[Reason, ...]
    names: tuple[HolidayName, ...]


@dataclass(frozen=True)
class SchoolVacation:
    """An inclusive range of school vacation days."""

    start: date
    end: date
    name: HolidayName

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"vacation {self.name.en!r} ends ({self.end}) before it starts ({self.start})")

    def __contains__(self, d: object) -> bool:
        return isinstance(d, date) and self.start <= d <= self.end

    def days(self) -> Iterator[date]:
        return _date_range(self.start, self.end)


def _date_range(first: date, last: date) -> Iterator[date]:
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------


def _n(key: str, he: str, en: str, ar: str) -> HolidayName:
    return HolidayName(he=he, en=en, ar=ar, key=key)


_ROSH_HASHANA = _n("rosh_hashana", "ראש השנה", "Rosh Hashana", "رأس السنة العبرية")
_SHEMINI_ATZERET = _n(
    "shemini_atzeret",
    "שמיני עצרת / שמחת תורה",
    "Shemini Atzeret / Simchat Torah",
    "شميني عتسيرت / فرحة التوراة",
)
_EREV_PESACH_VII = _n(
    "erev_pesach_vii",
    "ערב שביעי של פסח",
    "Eve of the Seventh Day of Pesach",
    "عشية اليوم السابع من الفصح اليهودي",
)

_H, _EVE, _FAST, _CHM, _MEM = (
    Reason.HOLIDAY,
    Reason.HOLIDAY_EVE,
    Reason.FAST,
    Reason.CHOL_HAMOED,
    Reason.MEMORIAL,
)

# hdate's holiday key -> (our name, reasons it is not a working day). Keys hdate knows but that
# are missing here (Rosh Chodesh, minor memorial days, diaspora days) are ignored.
_JEWISH: dict[str, tuple[HolidayName, tuple[Reason, ...]]] = {
    "erev_rosh_hashana": (
        _n("erev_rosh_hashana", "ערב ראש השנה", "Rosh Hashana Eve", "عشية رأس السنة العبرية"),
        (_EVE,),
    ),
    "rosh_hashana_i": (_ROSH_HASHANA, (_H,)),
    "rosh_hashana_ii": (_ROSH_HASHANA, (_H,)),
    "tzom_gedaliah": (_n("tzom_gedaliah", "צום גדליה", "Fast of Gedalia", "صوم جدليا"), (_FAST,)),
    "erev_yom_kippur": (
        _n("erev_yom_kippur", "ערב יום הכיפורים", "Yom Kippur Eve", "عشية يوم الغفران"),
        (_EVE,),
    ),
    "yom_kippur": (_n("yom_kippur", "יום הכיפורים", "Yom Kippur", "يوم الغفران"), (_H,)),
    "erev_sukkot": (_n("erev_sukkot", "ערב סוכות", "Sukkot Eve", "عشية عيد العُرش"), (_EVE,)),
    "sukkot": (_n("sukkot", "סוכות", "Sukkot", "عيد العُرش"), (_H,)),
    "hol_hamoed_sukkot": (
        _n("chol_hamoed_sukkot", "חול המועד סוכות", "Chol HaMoed Sukkot", "الأيام الوسطى لعيد العُرش"),
        (_CHM,),
    ),
    "hoshana_raba": (_n("hoshana_raba", "הושענא רבה", "Hoshana Raba", "هوشعنا رباه"), (_CHM, _EVE)),
    "shmini_atzeret": (_SHEMINI_ATZERET, (_H,)),
    "simchat_torah": (_SHEMINI_ATZERET, (_H,)),
    "chanukah": (_n("hanukkah", "חנוכה", "Hanukkah", "عيد الأنوار (حانوكا)"), ()),
    "asara_btevet": (
        _n("asara_btevet", "צום עשרה בטבת", "Fast of 10 Tevet", "صوم العاشر من طيفيت"),
        (_FAST,),
    ),
    "tu_bshvat": (_n("tu_bishvat", "ט״ו בשבט", "Tu BiShvat", "عيد الشجرة (طو بشباط)"), ()),
    "taanit_esther": (_n("taanit_esther", "תענית אסתר", "Fast of Esther", "صوم إستير"), (_FAST,)),
    "purim": (_n("purim", "פורים", "Purim", "عيد المساخر (بوريم)"), (_H,)),
    "shushan_purim": (_n("shushan_purim", "שושן פורים", "Shushan Purim", "شوشان بوريم"), ()),
    "erev_pesach": (_n("erev_pesach", "ערב פסח", "Pesach Eve", "عشية عيد الفصح اليهودي"), (_EVE,)),
    "pesach": (_n("pesach", "פסח", "Pesach", "عيد الفصح اليهودي"), (_H,)),
    "hol_hamoed_pesach": (
        _n("chol_hamoed_pesach", "חול המועד פסח", "Chol HaMoed Pesach", "الأيام الوسطى لعيد الفصح اليهودي"),
        (_CHM,),
    ),
    "pesach_vii": (
        _n("pesach_vii", "שביעי של פסח", "Seventh Day of Pesach", "اليوم السابع من عيد الفصح اليهودي"),
        (_H,),
    ),
    "yom_hashoah": (_n("yom_hashoah", "יום השואה", "Holocaust Remembrance Day", "يوم ذكرى المحرقة"), (_MEM,)),
    "yom_hazikaron": (_n("yom_hazikaron", "יום הזיכרון", "Memorial Day", "يوم الذكرى"), (_MEM,)),
    "yom_haatzmaut": (_n("yom_haatzmaut", "יום העצמאות", "Independence Day", "يوم الاستقلال"), (_H,)),
    "lag_bomer": (_n("lag_baomer", "ל״ג בעומר", "Lag BaOmer", "لاغ بعومر"), ()),
    "yom_yerushalayim": (_n("yom_yerushalayim", "יום ירושלים", "Jerusalem Day", "يوم القدس"), ()),
    "erev_shavuot": (_n("erev_shavuot", "ערב שבועות", "Shavuot Eve", "عشية عيد الأسابيع"), (_EVE,)),
    "shavuot": (_n("shavuot", "שבועות", "Shavuot", "عيد الأسابيع"), (_H,)),
    "tzom_tammuz": (
        _n("tzom_tammuz", "צום י״ז בתמוז", "Fast of 17 Tammuz", "صوم السابع عشر من تموز"),
        (_FAST,),
    ),
    "tisha_bav": (_n("tisha_bav", "תשעה באב", "Tisha B'Av", "صوم التاسع من آب"), (_FAST,)),
}

# If a future hdate adds a day of one of these kinds under a key we do not know, it still counts.
_FALLBACK_BY_TYPE: dict[HolidayTypes, Reason] = {
    HolidayTypes.YOM_TOV: _H,
    HolidayTypes.EREV_YOM_TOV: _EVE,
    HolidayTypes.HOL_HAMOED: _CHM,
    HolidayTypes.FAST_DAY: _FAST,
}

_MUSLIM: dict[str, HolidayName] = {
    "eid_al_fitr": _n("eid_al_fitr", "עיד אל-פיטר", "Eid al-Fitr", "عيد الفطر"),
    "eid_al_adha": _n("eid_al_adha", "עיד אל-אדחא", "Eid al-Adha", "عيد الأضحى"),
    "islamic_new_year": _n("islamic_new_year", "ראש השנה ההיג׳רי", "Islamic New Year", "رأس السنة الهجرية"),
    "mawlid": _n("mawlid", "מולד הנביא", "The Prophet's Birthday (Mawlid)", "المولد النبوي الشريف"),
}

_CHRISTIAN: dict[str, HolidayName] = {
    "christmas": _n("christmas", "חג המולד", "Christmas", "عيد الميلاد المجيد"),
    "christmas_orthodox": _n(
        "christmas_orthodox", "חג המולד (אורתודוקסי)", "Christmas (Orthodox)", "عيد الميلاد المجيد (الشرقي)"
    ),
    "epiphany": _n("epiphany", "חג ההתגלות", "Epiphany", "عيد الغطاس"),
    "epiphany_orthodox": _n(
        "epiphany_orthodox", "חג ההתגלות (אורתודוקסי)", "Epiphany (Orthodox)", "عيد الغطاس (الشرقي)"
    ),
    "good_friday": _n("good_friday", "יום שישי הטוב", "Good Friday", "الجمعة العظيمة"),
    "good_friday_orthodox": _n(
        "good_friday_orthodox",
        "יום שישי הטוב (אורתודוקסי)",
        "Good Friday (Orthodox)",
        "الجمعة العظيمة (الشرقية)",
    ),
    "easter": _n("easter", "חג הפסחא", "Easter", "عيد الفصح المجيد"),
    "easter_orthodox": _n("easter_orthodox", "חג הפסחא (אורתודוקסי)", "Easter (Orthodox)", "عيد الفصح المجيد (الشرقي)"),
    "easter_monday": _n("easter_monday", "שני של פסחא", "Easter Monday", "اثنين الفصح"),
    "easter_monday_orthodox": _n(
        "easter_monday_orthodox",
        "שני של פסחא (אורתודוקסי)",
        "Easter Monday (Orthodox)",
        "اثنين الفصح (الشرقي)",
    ),
}

_DRUZE_EID_AL_ADHA = _n("eid_al_adha", "עיד אל-אדחא", "Eid al-Adha", "عيد الأضحى")
_NABI_SHUAYB = _n("nabi_shuayb", "זיארת א-נבי שועייב", "Ziyarat al-Nabi Shu'ayb", "زيارة النبي شعيب")
_NABI_SABALAN = _n("nabi_sabalan", "חג א-נבי סבלאן", "Nabi Sabalan", "عيد النبي سبلان")
_AL_KHIDR = _n("al_khidr", "חג אל-ח׳דר", "Al-Khidr", "عيد الخضر")

# Fixed Druze holidays recognised in Israel: (month, first day, last day, name).
_DRUZE_FIXED: tuple[tuple[int, int, int, HolidayName], ...] = (
    (1, 25, 25, _AL_KHIDR),
    (4, 25, 28, _NABI_SHUAYB),
    (9, 10, 10, _NABI_SABALAN),
)

_SCHOOL_VACATION_KEY = "school_vacation"

_REASON_ORDER = {reason: index for index, reason in enumerate(Reason)}


# --------------------------------------------------------------------------------------------
# Per-year tables (cached; shared by every calendar instance)
# --------------------------------------------------------------------------------------------


class _Entry(NamedTuple):
    name: HolidayName
    reasons: tuple[Reason, ...]
    observance: Observance


def _append(table: dict[date, list[_Entry]], day: date, entry: _Entry) -> None:
    entries = table.setdefault(day, [])
    if entry not in entries:
        entries.append(entry)


@lru_cache(maxsize=1)
def _hdate_israel() -> HolidayDatabase:
    return HolidayDatabase(diaspora=False)


def _jewish_entries(key: str, kind: HolidayTypes) -> list[_Entry]:
    jewish = Observance.JEWISH
    if key == "hol_hamoed_pesach" and kind is HolidayTypes.EREV_YOM_TOV:
        # hdate files 20 Nisan, the eve of the seventh day, as an erev-type chol hamoed day.
        name, reasons = _JEWISH[key]
        return [_Entry(name, reasons, jewish), _Entry(_EREV_PESACH_VII, (_EVE,), jewish)]
    if key in _JEWISH:
        name, reasons = _JEWISH[key]
        return [_Entry(name, reasons, jewish)]
    if kind in _FALLBACK_BY_TYPE:
        return [_Entry(_n(key, key, key, key), (_FALLBACK_BY_TYPE[kind],), jewish)]
    return []


@lru_cache(maxsize=128)
def _jewish_year(year: int) -> Mapping[date, tuple[_Entry, ...]]:
    """Jewish and Israeli national days falling in Gregorian ``year`` (from hdate, Israel)."""
    table: dict[date, list[_Entry]] = {}
    for hebrew_year in (year + 3760, year + 3761):
        found = _hdate_israel().lookup_holidays_for_year(HebrewDate(hebrew_year, Months.TISHREI, 1))
        for hebrew_day, holidays in found.items():
            day = hebrew_day.to_gdate()
            if day.year != year:
                continue
            for holiday in holidays:
                for entry in _jewish_entries(holiday.name, holiday.type):
                    _append(table, day, entry)
    return {day: tuple(entries) for day, entries in table.items()}


class _IsraeliMinorityHolidays(HolidayBase, IslamicHolidays, ChristianHolidays):
    """Muslim and Christian days Israel recognises, from the ``holidays`` calendars.

    Names are our keys (``"muslim:eid_al_fitr"``), translated by this module.
    """

    def __init__(self, year: int) -> None:
        IslamicHolidays.__init__(self, show_estimated=False)
        ChristianHolidays.__init__(self)
        super().__init__(years=year)

    def _populate_public_holidays(self) -> None:
        for add in (
            self._add_eid_al_fitr_day,
            self._add_eid_al_fitr_day_two,
            self._add_eid_al_fitr_day_three,
        ):
            add("muslim:eid_al_fitr")
        for add in (
            self._add_eid_al_adha_day,
            self._add_eid_al_adha_day_two,
            self._add_eid_al_adha_day_three,
            self._add_eid_al_adha_day_four,
        ):
            add("muslim:eid_al_adha")
        self._add_islamic_new_year_day("muslim:islamic_new_year")
        self._add_mawlid_day("muslim:mawlid")
        # Catholic/Protestant (Gregorian) and Orthodox (Julian) communities.
        for suffix, calendar in (("", None), ("_orthodox", JULIAN_CALENDAR)):
            self._add_christmas_day(f"christian:christmas{suffix}", calendar)
            self._add_epiphany_day(f"christian:epiphany{suffix}", calendar)
            self._add_good_friday(f"christian:good_friday{suffix}", calendar)
            self._add_easter_sunday(f"christian:easter{suffix}", calendar)
            self._add_easter_monday(f"christian:easter_monday{suffix}", calendar)


@lru_cache(maxsize=128)
def _other_year(year: int) -> Mapping[date, tuple[_Entry, ...]]:
    """Muslim, Christian and Druze days falling in Gregorian ``year``."""
    table: dict[date, list[_Entry]] = {}
    library = _IsraeliMinorityHolidays(year)
    for day in sorted(library):
        for label in library.get_list(day):
            community, _, key = str(label).partition(":")
            if community == "muslim":
                _append(table, day, _Entry(_MUSLIM[key], (Reason.MUSLIM_HOLIDAY,), Observance.MUSLIM))
                if key == "eid_al_adha":
                    _append(table, day, _Entry(_DRUZE_EID_AL_ADHA, (Reason.DRUZE_HOLIDAY,), Observance.DRUZE))
            elif community == "christian":
                _append(table, day, _Entry(_CHRISTIAN[key], (Reason.CHRISTIAN_HOLIDAY,), Observance.CHRISTIAN))
    for month, first, last, name in _DRUZE_FIXED:
        for day in _date_range(date(year, month, first), date(year, month, last)):
            _append(table, day, _Entry(name, (Reason.DRUZE_HOLIDAY,), Observance.DRUZE))
    return {day: tuple(entries) for day, entries in sorted(table.items())}


# --------------------------------------------------------------------------------------------
# School vacations (CSV)
# --------------------------------------------------------------------------------------------

_VACATION_COLUMNS = ("start", "end", "name_he", "name_en", "name_ar")


def parse_school_vacations(text: str, source: str = "<csv>") -> tuple[SchoolVacation, ...]:
    """Parse ``start,end,name_he,name_en,name_ar`` rows (inclusive ISO dates; ``#`` lines ignored).

    Raises ValueError naming ``source:line`` for the first bad row.
    """
    numbered = [
        (number, line)
        for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        return ()
    rows = list(csv.reader(io.StringIO("\n".join(line for _, line in numbered))))
    header = [cell.strip() for cell in rows[0]]
    missing = [column for column in _VACATION_COLUMNS if column not in header]
    if missing:
        raise ValueError(f"{source}:{numbered[0][0]}: missing column(s): {', '.join(missing)}")
    index = {column: header.index(column) for column in _VACATION_COLUMNS}
    vacations: list[SchoolVacation] = []
    for (number, _), row in zip(numbered[1:], rows[1:], strict=True):
        try:
            cells = {column: row[position].strip() for column, position in index.items()}
            vacations.append(
                SchoolVacation(
                    start=date.fromisoformat(cells["start"]),
                    end=date.fromisoformat(cells["end"]),
                    name=HolidayName(
                        he=cells["name_he"],
                        en=cells["name_en"],
                        ar=cells["name_ar"],
                        key=_SCHOOL_VACATION_KEY,
                    ),
                )
            )
        except (IndexError, ValueError) as exc:
            raise ValueError(f"{source}:{number}: {exc}") from exc
    return tuple(vacations)


@lru_cache(maxsize=1)
def load_school_vacations() -> tuple[SchoolVacation, ...]:
    """The ministry's school vacations from the packaged ``bot/data/school_vacations.csv``."""
    resource = resources.files("bot").joinpath("data").joinpath("school_vacations.csv")
    return parse_school_vacations(resource.read_text(encoding="utf-8"), "bot/data/school_vacations.csv")


def _vacation_name(he: str, en: str, ar: str) -> HolidayName:
    return HolidayName(he=he, en=en, ar=ar, key=_SCHOOL_VACATION_KEY)


def usual_school_vacations(school_year: int) -> tuple[SchoolVacation, ...]:
    """The ministry's usual vacations for the school year that starts in September ``school_year``.

    The pattern of the published calendars (e.g. תשפ״ה): 29 Elul–2 Tishrei; 9–13 Tishrei (Yom
    Kippur and the days that bridge it to Sukkot); 14–22 Tishrei; 26 Kislev–2 Tevet; 14–15 Adar
    (Adar II in a leap year); 6–21 Nisan; 18 Iyar; 5–6 Sivan; and the primary schools' summer,
    1 July–31 August. Used for rows not yet published and for days past the CSV's last day.
    """
    year = school_year + 3761  # the Hebrew year whose Tishrei falls in that autumn

    def day(y: int, month: int, d: int) -> date:
        found: date = pyluach_dates.HebrewDate(y, month, d).to_pydate()
        return found

    adar = 13 if pyluach_utils._is_leap(year) else 12
    spans = (
        (day(year - 1, 6, 29), day(year, 7, 2), ("חופשת ראש השנה", "Rosh Hashana vacation", "عطلة رأس السنة العبرية")),
        (day(year, 7, 9), day(year, 7, 13), ("חופשת יום הכיפורים", "Yom Kippur vacation", "عطلة يوم الغفران")),
        (day(year, 7, 14), day(year, 7, 22), ("חופשת סוכות", "Sukkot vacation", "عطلة عيد العُرش")),
        (day(year, 9, 26), day(year, 10, 2), ("חופשת חנוכה", "Hanukkah vacation", "عطلة عيد الأنوار (حانوكا)")),
        (day(year, adar, 14), day(year, adar, 15), ("חופשת פורים", "Purim vacation", "عطلة عيد المساخر (بوريم)")),
        (day(year, 1, 6), day(year, 1, 21), ("חופשת פסח", "Pesach vacation", "عطلة عيد الفصح اليهودي")),
        (day(year, 2, 18), day(year, 2, 18), ("חופשת ל״ג בעומר", "Lag BaOmer vacation", "عطلة لاغ بعومر")),
        (day(year, 3, 5), day(year, 3, 6), ("חופשת שבועות", "Shavuot vacation", "عطلة عيد الأسابيع")),
        (
            date(school_year + 1, 7, 1),
            date(school_year + 1, 8, 31),
            ("חופשת הקיץ", "Summer vacation", "العطلة الصيفية"),
        ),
    )
    return tuple(SchoolVacation(first, last, _vacation_name(*names)) for first, last, names in spans)


def _usual_after(last_known: date, until_year: int) -> tuple[SchoolVacation, ...]:
    """The usual pattern's vacation days after ``last_known`` (trimmed), through ``until_year``."""
    found = []
    for school_year in range(last_known.year - 1, until_year + 1):
        for vacation in usual_school_vacations(school_year):
            if vacation.end > last_known:
                found.append(SchoolVacation(max(vacation.start, last_known + timedelta(days=1)), vacation.end,
                                            vacation.name))
    return tuple(found)


USUAL_PATTERN_YEARS = 3  # how far past the CSV's last day the usual pattern is applied

# --------------------------------------------------------------------------------------------
# The calendar
# --------------------------------------------------------------------------------------------


class IsraeliCalendar:
    """Working days and meeting dates for one forum's set of observances."""

    def __init__(
        self,
        observances: Iterable[Observance | str] = frozenset({Observance.JEWISH}),
        school_vacations: bool = False,
        extra_vacations: Iterable[SchoolVacation] = (),
        *,
        jerusalem: bool = False,
    ) -> None:
        """
        Args:
            observances: holiday calendars respected besides the Jewish/national one, which
                always applies (``"muslim"`` strings are accepted too).
            school_vacations: also treat the ministry's school vacations (CSV) as non-working.
            extra_vacations: more vacation ranges (a forum's own or an authority's); they apply
                whether or not ``school_vacations`` is on.
            jerusalem: Shushan Purim is a day off too (Jerusalem keeps Purim on 15 Adar).
        """
        if isinstance(observances, str):  # one sector string, not its characters
            observances = (observances,)
        self.observances = frozenset(Observance(o) for o in observances) | {Observance.JEWISH}
        self.school_vacations = school_vacations
        self.jerusalem = jerusalem
        published = load_school_vacations() if school_vacations else ()
        # The day after which the ministry's calendar is not in the CSV (None: not a school calendar).
        self.school_vacations_until: date | None = max((v.end for v in published), default=None)
        usual: tuple[SchoolVacation, ...] = ()
        if self.school_vacations_until is not None:
            last = self.school_vacations_until
            usual = _usual_after(last, last.year + USUAL_PATTERN_YEARS)
        vacations = published + usual + tuple(extra_vacations)
        self.vacations: tuple[SchoolVacation, ...] = vacations
        self._vacation_days: dict[date, list[HolidayName]] = {}
        for vacation in vacations:
            for day in vacation.days():
                names = self._vacation_days.setdefault(day, [])
                if vacation.name not in names:
                    names.append(vacation.name)
        self._blocked: dict[int, frozenset[date]] = {}

    def __repr__(self) -> str:
        kinds = ",".join(sorted(self.observances))
        return f"IsraeliCalendar(observances={kinds}, school_vacations={self.school_vacations})"

    # -- single days ------------------------------------------------------------------------

    def _entries(self, day: date) -> Iterator[_Entry]:
        yield from _jewish_year(day.year).get(day, ())
        for entry in _other_year(day.year).get(day, ()):
            if entry.observance in self.observances:
                yield entry

    def _reasons_of(self, entry: _Entry) -> tuple[Reason, ...]:
        if self.jerusalem and entry.name.key == "shushan_purim":
            return (Reason.HOLIDAY,)
        return entry.reasons

    def _blocked_dates(self, year: int) -> frozenset[date]:
        blocked = self._blocked.get(year)
        if blocked is None:
            days: set[date] = {day for day in self._vacation_days if day.year == year}
            for table in (_jewish_year(year), _other_year(year)):
                for day, entries in table.items():
                    if any(self._reasons_of(e) for e in entries if e.observance in self.observances):
                        days.add(day)
            blocked = self._blocked[year] = frozenset(days)
        return blocked

    def beyond_school_calendar(self, d: date) -> bool:
        """A school calendar's day past the CSV's last day: its vacations there are the usual pattern."""
        return self.school_vacations_until is not None and d > self.school_vacations_until

    def is_working_day(self, d: date) -> bool:
        """Sunday–Thursday and not a holiday, eve, fast, chol hamoed, memorial day or vacation."""
        return d.weekday() in _WORK_WEEK_SET and d not in self._blocked_dates(d.year)

    def day(self, d: date) -> DayInfo:
        reasons: list[Reason] = []
        if d.weekday() == SATURDAY:
            reasons.append(Reason.SHABBAT)
        elif d.weekday() == FRIDAY:
            reasons.append(Reason.WEEKEND)
        names: list[HolidayName] = []
        for entry in self._entries(d):
            if entry.name not in names:
                names.append(entry.name)
            reasons.extend(self._reasons_of(entry))
        vacation_names = self._vacation_days.get(d, [])
        if vacation_names:
            reasons.append(Reason.SCHOOL_VACATION)
            names.extend(name for name in vacation_names if name not in names)
        unique = tuple(sorted(set(reasons), key=_REASON_ORDER.__getitem__))
        return DayInfo(date=d, is_working_day=not unique, reasons=unique, names=tuple(names))

    # -- counting ---------------------------------------------------------------------------

    def working_days(self, first: date, last: date) -> list[date]:
        """Every working day from ``first`` through ``last`` (inclusive), in order."""
        return [d for d in _date_range(first, last) if self.is_working_day(d)] if first <= last else []

    def add_working_days(self, start: date, n: int) -> date:
        """The day ``n`` working days after ``start`` (before it when ``n`` < 0; ``start`` if 0).

        ``start`` itself is not counted, so a window opened on a Thursday with n=1 ends on the
        next working day. The result is always a working day when ``n`` != 0.
        """
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        day = start
        limit = 400 + 10 * remaining  # a year without a single working day means a bad vacation row
        while remaining:
            day += step
            if self.is_working_day(day):
                remaining -= 1
            limit -= 1
            if limit < 0:
                raise ValueError(f"no working days found around {start}; check the vacation ranges")
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """Working days from ``a`` to ``b``: those in (a, b] when a <= b, minus those in [b, a) otherwise.

        The inverse of :meth:`add_working_days`: ``working_days_between(a, add_working_days(a, n)) == n``.
        """
        if b >= a:
            return len(self.working_days(a + timedelta(days=1), b))
        return -len(self.working_days(b, a - timedelta(days=1)))

    # -- meetings ---------------------------------------------------------------------------

    def meeting_candidates(
        self,
        after: date,
        until: date,
        count: int,
        weekday_preference: tuple[int, ...] | None = None,
    ) -> list[date]:
        """Up to ``count`` allowed meeting days from ``after`` through ``until`` (both inclusive).

        The range is cut into ``count`` equal slices and each slice offers its best day: first a
        preferred weekday (``weekday_preference`` uses ``date.weekday()`` numbers, e.g.
        ``(TUESDAY, WEDNESDAY)``), then a weekday not offered yet, then the day nearest the
        slice's middle. Slices left empty by holidays are made up from the remaining days,
        farthest from those already chosen. Sorted, unique, only working days.
        """
        if count <= 0:
            return []
        allowed = self.working_days(after, until)
        if len(allowed) <= count:
            return allowed
        preferred = frozenset(weekday_preference or ())
        first = allowed[0]
        span = (allowed[-1] - first).days + 1
        slices: list[list[date]] = [[] for _ in range(count)]
        for day in allowed:
            slices[(day - first).days * count // span].append(day)

        # Two offers closer than this look bunched; spacing wins over weekday variety.
        min_gap = max(1, span // (2 * count))
        chosen: list[date] = []
        used: Counter[int] = Counter()

        def score(day: date, middle: float | None) -> tuple[bool, bool, int, float, date]:
            gap = min((abs((day - c).days) for c in chosen), default=span)
            closeness = abs((day - first).days - middle) if middle is not None else -gap
            return (day.weekday() not in preferred, gap < min_gap, used[day.weekday()], closeness, day)

        def take(day: date) -> None:
            chosen.append(day)
            used[day.weekday()] += 1

        for index, members in enumerate(slices):
            if members:
                middle = span * (2 * index + 1) / (2 * count) - 0.5
                take(min((score(day, middle), day) for day in members)[1])
        while len(chosen) < count:  # slices emptied by holidays: the day farthest from the others
            take(min((score(day, None), day) for day in allowed if day not in chosen)[1])
        return sorted(chosen)

    def next_period(
        self,
        cadence: Cadence,
        today: date,
        *,
        min_lead_days: int = 2,
        min_days: int = 1,
    ) -> tuple[date, date]:
        """First and last day of the next meeting period after ``today``.

        Weekly: the coming Sunday..Thursday (from a Sunday, the following week). Monthly: the
        next calendar month. A poll needs time to run, so the period starts no earlier than
        ``today + min_lead_days`` (opened on a Saturday, next week is offered from Monday; on
        31 January, February from the 2nd). A period with fewer than ``min_days`` allowed
        meeting days (a week of chol hamoed Sukkot) is skipped for the one after it.
        """
        if cadence == "weekly":
            start = today + timedelta(days=(SUNDAY - today.weekday()) % 7 or 7)
        elif cadence == "monthly":
            start = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        else:
            raise ValueError(f"unknown cadence {cadence!r}")
        earliest = today + timedelta(days=max(0, min_lead_days))
        for _ in range(60):
            if cadence == "weekly":
                end, following = start + timedelta(days=4), start + timedelta(days=7)
            else:
                following = (start + timedelta(days=32)).replace(day=1)
                end = following - timedelta(days=1)
            first = max(start, earliest)
            if first <= end and len(self.working_days(first, end)) >= min_days:
                return first, end
            start = following
        raise ValueError(f"no {cadence} period with {min_days} meeting day(s) after {today}")


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------

_TERRITORY = {"he": "he_IL", "iw": "he_IL", "ar": "ar_IL", "en": "en_IL"}
_GERESH = str.maketrans({"'": "\u05f3", '"': "\u05f4"})


def territory_locale(locale: str) -> str:
    """``he``/``ar``/``en`` (or ``he-IL``, ``he_IL``) -> the Israeli territory locale for Babel."""
    language = locale.replace("-", "_").split("_", 1)[0].lower()
    return _TERRITORY.get(language, locale.replace("-", "_"))


def hebrew_date_str(d: date) -> str:
    """The Hebrew date, e.g. ``"ט״ו בשבט תשפ״ז"`` (geresh U+05F3, gershayim U+05F4)."""
    hebrew = pyluach_dates.HebrewDate.from_pydate(d)
    day = str(hebrew.hebrew_day())
    month = str(hebrew.month_name(hebrew=True))
    year = str(hebrew.hebrew_year())
    return f"{day} ב{month} {year}".translate(_GERESH)


def format_meeting_option(d: date, locale: str, start: time | None = None) -> str:
    """A meeting date as a poll option.

    he: ``"יום ג׳, 12 בינואר 2027 · ד׳ בשבט תשפ״ז · 18:00"``; en: ``"Tue, 12 January 2027"``;
    ar: ``"الثلاثاء، 12 كانون الثاني 2027"`` (Levantine months, Western digits). The time is appended when given.
    """
    babel_locale = territory_locale(locale)
    language = babel_locale.split("_", 1)[0]
    weekday = format_date(d, "EEE", locale=babel_locale)
    long_date = format_date(d, "long", locale=babel_locale)
    if language == "ar":
        long_date = levantine(long_date)
    comma = "،" if language == "ar" else ","
    parts = [f"{weekday}{comma} {long_date}"]
    if language == "he":
        parts.append(hebrew_date_str(d))
    if start is not None:
        parts.append(f"{start.hour:02d}:{start.minute:02d}")
    return " · ".join(parts)
