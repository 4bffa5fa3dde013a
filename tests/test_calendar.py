"""The Israeli calendar: facts checked against hdate, pyluach and holidays, not memory."""

from __future__ import annotations

import itertools
from datetime import date, time, timedelta

import holidays
import pytest
from holidays.constants import OPTIONAL, PUBLIC
from hypothesis import given, settings
from hypothesis import strategies as st
from pyluach import dates as pyluach_dates

from bot.domain import calendar as cal_module
from bot.domain.calendar import (
    FRIDAY,
    SATURDAY,
    THURSDAY,
    TUESDAY,
    WEDNESDAY,
    WORK_WEEK,
    HolidayName,
    IsraeliCalendar,
    Observance,
    Reason,
    SchoolVacation,
    format_meeting_option,
    hebrew_date_str,
    load_school_vacations,
    parse_school_vacations,
)

GENERAL = IsraeliCalendar()
SCHOOL = IsraeliCalendar(school_vacations=True)
EVERYONE = IsraeliCalendar(observances=frozenset(Observance), school_vacations=True)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def keys(d: date, calendar: IsraeliCalendar = GENERAL) -> set[str]:
    return {name.key for name in calendar.day(d).names}


# -- Tishrei 2026 (5787) -------------------------------------------------------------------------

TISHREI_5787_CLOSED = {
    date(2026, 9, 11): Reason.HOLIDAY_EVE,  # erev Rosh Hashana (a Friday)
    date(2026, 9, 12): Reason.HOLIDAY,  # Rosh Hashana I (Shabbat)
    date(2026, 9, 13): Reason.HOLIDAY,  # Rosh Hashana II
    date(2026, 9, 14): Reason.FAST,  # Tzom Gedalia
    date(2026, 9, 20): Reason.HOLIDAY_EVE,  # erev Yom Kippur
    date(2026, 9, 21): Reason.HOLIDAY,  # Yom Kippur
    date(2026, 9, 25): Reason.HOLIDAY_EVE,  # erev Sukkot
    date(2026, 9, 26): Reason.HOLIDAY,  # Sukkot
    **{date(2026, 9, d): Reason.CHOL_HAMOED for d in range(27, 31)},
    date(2026, 10, 1): Reason.CHOL_HAMOED,
    date(2026, 10, 2): Reason.HOLIDAY_EVE,  # Hoshana Raba, eve of Shemini Atzeret
    date(2026, 10, 3): Reason.HOLIDAY,  # Shemini Atzeret / Simchat Torah
}


def test_tishrei_5787_days_are_closed_with_their_reasons() -> None:
    for day, reason in TISHREI_5787_CLOSED.items():
        info = GENERAL.day(day)
        assert not info.is_working_day, day
        assert reason in info.reasons, (day, info.reasons)
    assert GENERAL.day(date(2026, 9, 13)).names[0][:2] == ("ראש השנה", "Rosh Hashana")
    assert "yom_kippur" in keys(date(2026, 9, 21))
    assert Reason.CHOL_HAMOED in GENERAL.day(date(2026, 10, 2)).reasons  # Hoshana Raba is both
    assert GENERAL.day(date(2026, 9, 12)).reasons == (Reason.SHABBAT, Reason.HOLIDAY)


def test_tishrei_5787_agrees_with_pyluach() -> None:
    for day in days(date(2026, 9, 10), date(2026, 10, 4)):
        hebrew = pyluach_dates.HebrewDate.from_pydate(day)
        if hebrew.festival(israel=True) or hebrew.fast_day():
            assert not GENERAL.is_working_day(day), day


@pytest.mark.parametrize("count", [1, 3, 5, 8, 50])
def test_candidates_across_the_tishrei_holidays_avoid_them(count: int) -> None:
    offered = GENERAL.meeting_candidates(date(2026, 9, 6), date(2026, 10, 8), count)
    assert offered
    assert not set(offered) & set(TISHREI_5787_CLOSED)
    assert all(d.weekday() in WORK_WEEK for d in offered)
    if count == 50:  # everything allowed: exactly the working days left in those weeks
        assert offered == [
            *days(date(2026, 9, 6), date(2026, 9, 10)),
            *days(date(2026, 9, 15), date(2026, 9, 17)),
            *days(date(2026, 9, 22), date(2026, 9, 24)),
            *days(date(2026, 10, 4), date(2026, 10, 8)),
        ]


def test_candidates_are_spread_over_the_range_and_weekdays() -> None:
    offered = GENERAL.meeting_candidates(date(2026, 9, 11), date(2026, 10, 11), 4)
    assert len(offered) == 4
    assert len({d.weekday() for d in offered}) >= 3
    assert min(b - a for a, b in itertools.pairwise(offered)) >= timedelta(days=3)
    assert offered[0] < date(2026, 9, 20) and offered[-1] > date(2026, 10, 3)


def test_candidates_prefer_the_preferred_weekdays() -> None:
    offered = GENERAL.meeting_candidates(date(2027, 2, 1), date(2027, 2, 28), 4, (TUESDAY, WEDNESDAY))
    assert len(offered) == 4
    assert {d.weekday() for d in offered} == {TUESDAY, WEDNESDAY}
    assert len({d.isocalendar()[1] for d in offered}) == 4  # one a week, not bunched
    assert GENERAL.meeting_candidates(date(2027, 2, 1), date(2027, 2, 28), 0) == []
    assert GENERAL.meeting_candidates(date(2027, 2, 28), date(2027, 2, 1), 3) == []


# -- Hanukkah, Purim, Pesach, Shavuot ------------------------------------------------------------


def test_hanukkah_is_a_working_time_except_for_schools() -> None:
    hanukkah = days(date(2026, 12, 5), date(2026, 12, 12))
    assert all("hanukkah" in keys(d) for d in hanukkah)
    school_days = [d for d in hanukkah if d.weekday() in WORK_WEEK]
    assert school_days == days(date(2026, 12, 6), date(2026, 12, 10))
    assert all(GENERAL.is_working_day(d) for d in school_days)
    assert all(not SCHOOL.is_working_day(d) for d in school_days)
    assert Reason.SCHOOL_VACATION in SCHOOL.day(date(2026, 12, 8)).reasons
    offered = SCHOOL.meeting_candidates(date(2026, 11, 29), date(2026, 12, 17), 20)
    assert not set(offered) & set(hanukkah)
    assert set(GENERAL.meeting_candidates(date(2026, 11, 29), date(2026, 12, 17), 20)) >= set(school_days)


def test_purim_5787_and_shushan_purim_in_jerusalem() -> None:
    assert Reason.FAST in GENERAL.day(date(2027, 3, 22)).reasons  # Ta'anit Esther
    assert GENERAL.day(date(2027, 3, 23)).reasons == (Reason.HOLIDAY,)  # Purim
    assert GENERAL.is_working_day(date(2027, 3, 24))  # Shushan Purim, outside Jerusalem
    assert "shushan_purim" in keys(date(2027, 3, 24))
    assert not IsraeliCalendar(jerusalem=True).is_working_day(date(2027, 3, 24))
    assert not SCHOOL.is_working_day(date(2027, 3, 24))  # the school Purim vacation


def test_pesach_5787() -> None:
    expected = {
        date(2027, 4, 21): {Reason.HOLIDAY_EVE},
        date(2027, 4, 22): {Reason.HOLIDAY},
        date(2027, 4, 25): {Reason.CHOL_HAMOED},
        date(2027, 4, 26): {Reason.CHOL_HAMOED},
        date(2027, 4, 27): {Reason.CHOL_HAMOED, Reason.HOLIDAY_EVE},  # eve of the seventh day
        date(2027, 4, 28): {Reason.HOLIDAY},
    }
    for day, reasons in expected.items():
        assert set(GENERAL.day(day).reasons) == reasons, day
    assert GENERAL.is_working_day(date(2027, 4, 20))
    assert GENERAL.is_working_day(date(2027, 4, 29))  # isru chag: open, but schools are still out
    assert not SCHOOL.is_working_day(date(2027, 4, 29))
    offered = GENERAL.meeting_candidates(date(2027, 4, 18), date(2027, 5, 2), 10)
    assert not set(offered) & set(days(date(2027, 4, 21), date(2027, 4, 28)))


def test_shavuot_5787() -> None:
    assert Reason.HOLIDAY_EVE in GENERAL.day(date(2027, 6, 10)).reasons
    assert Reason.HOLIDAY in GENERAL.day(date(2027, 6, 11)).reasons


# -- fasts and national days ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "key"),
    [
        (date(2026, 9, 14), "tzom_gedaliah"),
        (date(2026, 12, 20), "asara_btevet"),  # 10 Tevet 5787
        (date(2027, 3, 22), "taanit_esther"),
        (date(2027, 7, 22), "tzom_tammuz"),
        (date(2027, 8, 12), "tisha_bav"),
    ],
)
def test_public_fasts(day: date, key: str) -> None:
    assert pyluach_dates.HebrewDate.from_pydate(day).fast_day() is not None
    info = GENERAL.day(day)
    assert not info.is_working_day
    assert Reason.FAST in info.reasons
    assert key in {name.key for name in info.names}


def test_every_pyluach_fast_and_festival_is_closed_for_ten_years() -> None:
    open_festivals = {"Chanuka", "Tu B'shvat", "Purim Katan", "Shushan Purim", "Pesach Sheni", "Lag Ba'omer"}
    open_festivals |= {"Tu B'av"}
    for day in days(date(2025, 1, 1), date(2034, 12, 31)):
        hebrew = pyluach_dates.HebrewDate.from_pydate(day)
        festival = hebrew.festival(israel=True)
        if hebrew.fast_day() or (festival and festival not in open_festivals):
            assert not GENERAL.is_working_day(day), (day, festival, hebrew.fast_day())


def test_the_holidays_packages_israeli_days_are_closed() -> None:
    table = holidays.country_holidays("IL", years=range(2020, 2036), categories=(PUBLIC, OPTIONAL), language="en_US")
    still_open = {"Jerusalem Day", "Sigd"}  # working days
    for day, name in table.items():
        if name not in still_open:
            assert not GENERAL.is_working_day(day), (day, name)


def test_memorial_and_independence_days_5787() -> None:
    assert GENERAL.day(date(2027, 5, 4)).reasons == (Reason.MEMORIAL,)  # Yom HaShoah
    assert GENERAL.day(date(2027, 5, 11)).reasons == (Reason.MEMORIAL,)  # Yom HaZikaron
    assert GENERAL.day(date(2027, 5, 12)).reasons == (Reason.HOLIDAY,)  # Yom HaAtzmaut
    assert "yom_hazikaron" in keys(date(2027, 5, 11))
    assert "yom_haatzmaut" in keys(date(2027, 5, 12))
    assert GENERAL.is_working_day(date(2027, 5, 13))
    assert GENERAL.is_working_day(date(2027, 6, 3))  # Yom Yerushalayim's eve: ordinary


# -- other communities ---------------------------------------------------------------------------


def test_eid_al_fitr_only_closes_muslim_forums() -> None:
    muslim = IsraeliCalendar(observances=frozenset({Observance.MUSLIM}))
    for day in (date(2027, 3, 9), date(2027, 3, 10)):
        assert GENERAL.is_working_day(day)
        assert "eid_al_fitr" not in keys(day)
        info = muslim.day(day)
        assert not info.is_working_day
        assert info.reasons == (Reason.MUSLIM_HOLIDAY,)
        assert info.names[0] == HolidayName("עיד אל-פיטר", "Eid al-Fitr", "عيد الفطر", "eid_al_fitr")
    offered = muslim.meeting_candidates(date(2027, 3, 7), date(2027, 3, 18), 10)
    assert date(2027, 3, 9) not in offered and date(2027, 3, 10) not in offered
    assert date(2027, 3, 9) in GENERAL.meeting_candidates(date(2027, 3, 7), date(2027, 3, 18), 10)


def test_christian_and_druze_days() -> None:
    christian = IsraeliCalendar(observances=["christian"])  # the sectors' strings work too
    druze = IsraeliCalendar(observances={Observance.DRUZE})
    assert not christian.is_working_day(date(2027, 1, 7))  # Orthodox Christmas, a Thursday
    assert Reason.CHRISTIAN_HOLIDAY in christian.day(date(2027, 3, 29)).reasons  # Easter Monday
    assert druze.is_working_day(date(2027, 3, 29))
    assert not druze.is_working_day(date(2027, 1, 25))  # al-Khidr
    assert not druze.is_working_day(date(2028, 4, 25))  # Nabi Shu'ayb, 25-28 April
    assert not druze.is_working_day(date(2028, 4, 27))
    assert Reason.DRUZE_HOLIDAY in druze.day(date(2027, 5, 17)).reasons  # Eid al-Adha
    assert Reason.MUSLIM_HOLIDAY not in druze.day(date(2027, 5, 17)).reasons
    assert GENERAL.is_working_day(date(2027, 1, 25))
    assert christian.observances == {Observance.JEWISH, Observance.CHRISTIAN}  # Jewish days always apply
    assert IsraeliCalendar(observances="druze").observances == {Observance.JEWISH, Observance.DRUZE}


# -- counting working days -----------------------------------------------------------------------


def test_add_working_days_across_the_holidays() -> None:
    assert GENERAL.add_working_days(date(2026, 9, 10), 1) == date(2026, 9, 15)  # over RH and the fast
    assert GENERAL.add_working_days(date(2026, 9, 1), 20) == date(2026, 10, 12)
    assert GENERAL.add_working_days(date(2026, 10, 4), -1) == date(2026, 9, 24)
    assert GENERAL.add_working_days(date(2026, 9, 12), 0) == date(2026, 9, 12)
    assert SCHOOL.add_working_days(date(2026, 12, 3), 1) == date(2026, 12, 13)  # over Hanukkah vacation
    assert GENERAL.working_days_between(date(2026, 9, 1), date(2026, 10, 12)) == 20
    assert GENERAL.working_days_between(date(2026, 10, 12), date(2026, 9, 1)) == -20
    assert GENERAL.working_days_between(date(2026, 9, 24), date(2026, 10, 3)) == 0


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2034, 12, 31)),
    n=st.integers(min_value=-60, max_value=60),
)
def test_working_days_between_inverts_add_working_days(start: date, n: int) -> None:
    end = EVERYONE.add_working_days(start, n)
    assert EVERYONE.working_days_between(start, end) == n
    if n:
        assert EVERYONE.is_working_day(end)


@settings(max_examples=300, deadline=None)
@given(day=st.dates(min_value=date(2024, 1, 1), max_value=date(2036, 12, 31)))
def test_day_info_agrees_with_is_working_day(day: date) -> None:
    for calendar in (GENERAL, SCHOOL, EVERYONE):
        info = calendar.day(day)
        assert info.is_working_day == calendar.is_working_day(day) == (not info.reasons)
        assert len(set(info.reasons)) == len(info.reasons)
    if day.weekday() == FRIDAY:
        assert Reason.WEEKEND in GENERAL.day(day).reasons
    if day.weekday() == SATURDAY:
        assert Reason.SHABBAT in GENERAL.day(day).reasons


# -- meeting candidates: the property -------------------------------------------------------------

calendars = st.builds(
    IsraeliCalendar,
    observances=st.frozensets(st.sampled_from(list(Observance))),
    school_vacations=st.booleans(),
    jerusalem=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(
    calendar=calendars,
    after=st.dates(min_value=date(2025, 1, 1), max_value=date(2033, 12, 31)),
    length=st.integers(min_value=0, max_value=120),
    count=st.integers(min_value=0, max_value=12),
    preference=st.none() | st.lists(st.sampled_from(WORK_WEEK), max_size=3).map(tuple),
)
def test_candidates_are_working_days_in_range_unique_and_sorted(
    calendar: IsraeliCalendar, after: date, length: int, count: int, preference: tuple[int, ...] | None
) -> None:
    until = after + timedelta(days=length)
    offered = calendar.meeting_candidates(after, until, count, preference)
    assert all(calendar.is_working_day(d) for d in offered)
    assert all(after <= d <= until for d in offered)
    assert offered == sorted(set(offered))
    assert len(offered) == min(count, len(calendar.working_days(after, until)))


# -- periods ---------------------------------------------------------------------------------------


def test_next_weekly_period() -> None:
    assert GENERAL.next_period("weekly", date(2027, 1, 7)) == (date(2027, 1, 10), date(2027, 1, 14))  # Thu
    assert GENERAL.next_period("weekly", date(2027, 1, 10)) == (date(2027, 1, 17), date(2027, 1, 21))  # Sun
    # Opened on Saturday night: tomorrow is too soon for a poll, so the week is offered from Monday.
    assert GENERAL.next_period("weekly", date(2027, 1, 9)) == (date(2027, 1, 11), date(2027, 1, 14))
    # The week of chol hamoed Sukkot has no meeting day at all: the week after it is offered.
    assert GENERAL.next_period("weekly", date(2026, 9, 24)) == (date(2026, 10, 4), date(2026, 10, 8))


def test_next_monthly_period() -> None:
    assert GENERAL.next_period("monthly", date(2027, 1, 10)) == (date(2027, 2, 1), date(2027, 2, 28))
    assert GENERAL.next_period("monthly", date(2027, 1, 31)) == (date(2027, 2, 2), date(2027, 2, 28))
    assert GENERAL.next_period("monthly", date(2026, 12, 15)) == (date(2027, 1, 1), date(2027, 1, 31))
    first, last = GENERAL.next_period("monthly", date(2027, 1, 31))
    assert len(GENERAL.meeting_candidates(first, last, 4)) == 4
    with pytest.raises(ValueError):
        GENERAL.next_period("yearly", date(2027, 1, 1))  # type: ignore[arg-type]


# -- school vacations --------------------------------------------------------------------------------


def test_packaged_school_vacations_5787_to_5789() -> None:
    vacations = load_school_vacations()
    english = {v.name.en for v in vacations}
    for wanted in ("Rosh Hashana", "Yom Kippur", "Sukkot", "Hanukkah", "Purim", "Pesach", "Shavuot"):
        assert any(wanted in name for name in english), wanted
    for vacation in vacations:
        assert date(2026, 9, 1) <= vacation.start <= vacation.end <= date(2029, 8, 31)
        assert vacation.name.he and vacation.name.ar
    ordered = sorted(vacations, key=lambda v: v.start)
    assert all(a.end < b.start for a, b in itertools.pairwise(ordered))
    assert date(2027, 4, 22) in next(v for v in vacations if "Pesach" in v.name.en)


def test_parse_school_vacations_reports_bad_rows() -> None:
    text = "# admins' note\nstart,end,name_he,name_en,name_ar\n\n2027-01-03,2027-01-04,א,A,ب\n"
    (only,) = parse_school_vacations(text)
    assert (only.start, only.end, only.name.en) == (date(2027, 1, 3), date(2027, 1, 4), "A")
    with pytest.raises(ValueError, match=r"x\.csv:5:"):
        parse_school_vacations(text + "2027-02-05,2027-02-01,א,A,ب\n", "x.csv")
    with pytest.raises(ValueError, match="missing column"):
        parse_school_vacations("start,end\n2027-01-01,2027-01-02\n")


def test_extra_vacations_apply() -> None:
    local = SchoolVacation(date(2027, 1, 17), date(2027, 1, 18), HolidayName("ח", "Local", "م", "local"))
    calendar = IsraeliCalendar(extra_vacations=[local])
    assert not calendar.is_working_day(date(2027, 1, 18))
    assert calendar.day(date(2027, 1, 17)).names == (local.name,)
    assert GENERAL.is_working_day(date(2027, 1, 18))


# -- Hebrew dates and formatting ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # pyluach and hdate agree that 12 January 2027 is 4 Shevat (5 Shevat is the 13th).
        (date(2027, 1, 12), "ד׳ בשבט תשפ״ז"),
        (date(2027, 1, 13), "ה׳ בשבט תשפ״ז"),
        (date(2027, 1, 23), "ט״ו בשבט תשפ״ז"),
        (date(2026, 9, 12), "א׳ בתשרי תשפ״ז"),
        (date(2027, 3, 23), "י״ד באדר ב׳ תשפ״ז"),
        (date(2026, 10, 11), "ל׳ בתשרי תשפ״ז"),
    ],
)
def test_hebrew_date_str(day: date, expected: str) -> None:
    assert hebrew_date_str(day) == expected
    assert "'" not in expected and '"' not in expected


def test_format_meeting_option() -> None:
    day = date(2027, 1, 12)
    assert format_meeting_option(day, "he") == "יום ג׳, 12 בינואר 2027 · ד׳ בשבט תשפ״ז"
    assert format_meeting_option(day, "he_IL", time(18, 0)) == "יום ג׳, 12 בינואר 2027 · ד׳ בשבט תשפ״ז · 18:00"
    assert format_meeting_option(day, "en") == "Tue, 12 January 2027"
    assert format_meeting_option(day, "en", time(9, 30)) == "Tue, 12 January 2027 · 09:30"
    arabic = format_meeting_option(day, "ar", time(18, 0))
    assert arabic == "الثلاثاء، 12 كانون الثاني 2027 · 18:00"
    for locale in ("he", "ar", "en"):
        assert len(format_meeting_option(day, locale, time(18, 0))) <= 100  # a Telegram poll option


def test_holiday_names_have_a_label_per_locale() -> None:
    (name,) = GENERAL.day(date(2026, 9, 21)).names
    assert (name.label("he"), name.label("en_IL"), name.label("ar")) == ("יום הכיפורים", "Yom Kippur", "يوم الغفران")


# -- ten years ------------------------------------------------------------------------------------


def test_ten_years_day_and_is_working_day_agree() -> None:
    cal_module._jewish_year.cache_clear()
    cal_module._other_year.cache_clear()
    calendar = IsraeliCalendar(observances=frozenset(Observance), school_vacations=True)
    span = days(date(2027, 1, 1), date(2036, 12, 31))
    working = sum(calendar.is_working_day(d) for d in span)
    infos = [calendar.day(d) for d in span]
    assert working == sum(info.is_working_day for info in infos)
    assert 0.5 < working / len(span) < 5 / 7
    assert THURSDAY in WORK_WEEK and WEDNESDAY in WORK_WEEK
