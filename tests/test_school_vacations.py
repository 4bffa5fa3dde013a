"""School vacations through school year 2028-29, the usual pattern past the file, and the lead told."""

from __future__ import annotations

from datetime import date, datetime

from bot.app import App
from bot.clock import FixedClock
from bot.domain.calendar import IsraeliCalendar, load_school_vacations, usual_school_vacations
from bot.domain.meeting_polls import candidate_dates
from tests.test_date_polls import TZ, school

SCHOOL = IsraeliCalendar(school_vacations=True)


def test_the_file_covers_the_school_years_through_2028_29_with_their_summers() -> None:
    vacations = load_school_vacations()
    assert max(v.end for v in vacations) == date(2029, 8, 31)
    summers = [(v.start, v.end) for v in vacations if v.name.en == "Summer vacation"]
    assert summers == [(date(2027, 7, 1), date(2027, 8, 31)), (date(2028, 7, 1), date(2028, 8, 31)),
                       (date(2029, 7, 1), date(2029, 8, 31))]
    # The rows not yet published follow the usual pattern exactly (and are flagged in the file).
    for year in (2027, 2028):
        rows = {(v.start, v.end, v.name.en) for v in vacations if date(year, 9, 1) <= v.start <= date(year + 1, 8, 31)}
        assert rows == {(v.start, v.end, v.name.en) for v in usual_school_vacations(year)}


def test_july_2027_and_hanukkah_2027_are_not_offered_to_a_school() -> None:
    assert not any(SCHOOL.is_working_day(date(2027, 7, d)) for d in range(1, 32))
    assert not any(SCHOOL.is_working_day(date(2027, 12, d)) for d in range(26, 32))
    assert SCHOOL.day(date(2027, 12, 27)).names[-1].he == "חופשת חנוכה"
    offered = candidate_dates(SCHOOL, "monthly", date(2027, 6, 25))
    assert all(d.month == 9 for d in offered)
    december = candidate_dates(SCHOOL, "monthly", date(2027, 11, 22))
    assert december and all(d < date(2027, 12, 26) for d in december)


def test_past_the_file_a_school_calendar_skips_the_usual_vacations() -> None:
    assert SCHOOL.school_vacations_until == date(2029, 8, 31)
    assert SCHOOL.beyond_school_calendar(date(2029, 9, 1)) and not SCHOOL.beyond_school_calendar(date(2029, 8, 31))
    hanukkah_5790 = next(v for v in usual_school_vacations(2029) if v.name.en == "Hanukkah vacation")
    assert hanukkah_5790.start == date(2029, 12, 3)
    assert not SCHOOL.is_working_day(date(2029, 12, 4))  # Hanukkah 2029: no row, the usual pattern
    assert not SCHOOL.is_working_day(date(2030, 7, 8))  # the summer of 2030
    assert IsraeliCalendar().is_working_day(date(2029, 12, 4))  # not a school forum: an ordinary Tuesday


async def test_a_school_lead_is_told_when_the_dates_go_past_the_vacation_file(app: App, clock: FixedClock) -> None:
    s = await school(app)
    clock.set(datetime(2029, 8, 12, 9, tzinfo=TZ))
    draft = await s.lead.text_of("/poll")
    assert "לוח החופשות של משרד החינוך שבידי מסתיים ב־31 באוגוסט 2029" in draft
    assert "ספטמבר 2029" in draft
    await s.lead.say("✖ ביטול")
    clock.set(datetime(2027, 6, 10, 9, tzinfo=TZ))
    draft = await s.lead.text_of("/poll")
    assert "שבידי מסתיים" not in draft and "ביולי" not in draft
