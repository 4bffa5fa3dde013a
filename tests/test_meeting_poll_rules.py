"""The pure rules of meeting-date polls: candidates, typed dates, the proposal, timing, the .ics."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
from pyluach import dates as pyluach_dates

from bot.domain.calendar import FRIDAY, SATURDAY, IsraeliCalendar, Observance, load_school_vacations
from bot.domain.meeting_polls import (
    DateInputError,
    OptionCount,
    candidate_dates,
    candidate_window,
    count_votes,
    default_deadline,
    meeting_ics,
    meeting_reminder_at,
    missing_roles,
    nudge_period,
    parse_date_time,
    parse_time,
    propose,
    quiet_moment,
    reminder_at,
)

TZ = ZoneInfo("Asia/Jerusalem")
GENERAL = IsraeliCalendar()
SCHOOL = IsraeliCalendar(school_vacations=True)
ARAB_SCHOOL = IsraeliCalendar([Observance.MUSLIM, Observance.CHRISTIAN], school_vacations=True)
DRUZE = IsraeliCalendar([Observance.DRUZE])

# Days pyluach (not hdate, which the calendar uses) calls a Yom Tov, chol hamoed or Purim.
CLOSED_FESTIVALS = {"Rosh Hashana", "Yom Kippur", "Succos", "Shmini Atzeres", "Pesach", "Shavuos", "Purim"}


def forbidden_by_pyluach(day: date) -> str | None:
    """An independent oracle for "never Shabbat, a Jewish holiday, its eve, or a fast day"."""
    if day.weekday() in (FRIDAY, SATURDAY):
        return "weekend"
    hebrew = pyluach_dates.HebrewDate.from_pydate(day)
    festival = hebrew.festival(israel=True)
    if festival in CLOSED_FESTIVALS:
        return str(festival)
    if hebrew.fast_day():
        return str(hebrew.fast_day())
    tomorrow = pyluach_dates.HebrewDate.from_pydate(day + timedelta(days=1))
    if tomorrow.festival(israel=True, include_working_days=False):
        return f"eve of {tomorrow.festival(israel=True, include_working_days=False)}"
    return None


def offered(calendar: IsraeliCalendar, cadence: str, first: date, last: date) -> dict[date, list[date]]:
    """What /poll would offer, opened on every day from ``first`` to ``last``."""
    result = {}
    day = first
    while day <= last:
        result[day] = candidate_dates(calendar, cadence, day)  # type: ignore[arg-type]
        day += timedelta(days=1)
    return result


def assert_all_allowed(calendar: IsraeliCalendar, by_day: dict[date, list[date]]) -> set[date]:
    seen: set[date] = set()
    for opened, candidates in by_day.items():
        assert len(candidates) >= 2, (opened, candidates)
        assert candidates == sorted(set(candidates))
        for candidate in candidates:
            assert candidate > opened
            assert forbidden_by_pyluach(candidate) is None, (opened, candidate, forbidden_by_pyluach(candidate))
            assert calendar.is_working_day(candidate), (opened, candidate, calendar.day(candidate))
        seen.update(candidates)
    return seen


@pytest.mark.parametrize("cadence", ["weekly", "monthly"])
@pytest.mark.parametrize("calendar", [GENERAL, SCHOOL, ARAB_SCHOOL, DRUZE], ids=["general", "school", "arab", "druze"])
def test_rosh_hashana_to_sukkot_2026_offers_no_forbidden_day(calendar: IsraeliCalendar, cadence: str) -> None:
    seen = assert_all_allowed(calendar, offered(calendar, cadence, date(2026, 8, 16), date(2026, 10, 8)))
    tishrei = {d for d in seen if date(2026, 9, 11) <= d <= date(2026, 10, 3)}
    # Only the few ordinary days between the holidays can be offered in Tishrei.
    assert tishrei <= {date(2026, 9, 15), date(2026, 9, 16), date(2026, 9, 17), date(2026, 9, 22),
                       date(2026, 9, 23), date(2026, 9, 24)}


def test_a_week_of_chol_hamoed_is_skipped_for_the_next_one() -> None:
    # Opened on Sunday 20 September (erev Yom Kippur): next week is Sukkot, so HQ is offered the week after.
    assert candidate_dates(GENERAL, "weekly", date(2026, 9, 20)) == [
        date(2026, 10, 4), date(2026, 10, 6), date(2026, 10, 8)
    ]


@pytest.mark.parametrize("cadence", ["weekly", "monthly"])
def test_hanukkah_2026_and_2027(cadence: str) -> None:
    for first, last in ((date(2026, 11, 20), date(2026, 12, 31)), (date(2027, 11, 20), date(2027, 12, 31))):
        assert_all_allowed(GENERAL, offered(GENERAL, cadence, first, last))
        seen = assert_all_allowed(SCHOOL, offered(SCHOOL, cadence, first, last))
        vacations = {d for v in load_school_vacations() for d in v.days()}
        assert not seen & vacations, sorted(seen & vacations)
    # 10 Tevet 5787 (Sunday 20 December 2026) is a fast: never offered.
    weekly = offered(GENERAL, "weekly", date(2026, 12, 1), date(2026, 12, 19))
    assert all(date(2026, 12, 20) not in candidates for candidates in weekly.values())
    # The school's Hanukkah vacation (6-11 December 2026) is never offered to a school forum...
    school_december = candidate_dates(SCHOOL, "monthly", date(2026, 11, 22))
    assert not [d for d in school_december if date(2026, 12, 6) <= d <= date(2026, 12, 11)]
    # ...while Hanukkah itself is an ordinary working day for other forums.
    assert GENERAL.is_working_day(date(2026, 12, 7))


@pytest.mark.parametrize("calendar", [GENERAL, SCHOOL, ARAB_SCHOOL], ids=["general", "school", "arab"])
@pytest.mark.parametrize("cadence", ["weekly", "monthly"])
def test_pesach_2027_offers_no_forbidden_day(calendar: IsraeliCalendar, cadence: str) -> None:
    seen = assert_all_allowed(calendar, offered(calendar, cadence, date(2027, 3, 1), date(2027, 5, 20)))
    pesach = {date(2027, 4, 21) + timedelta(days=i) for i in range(8)}  # erev Pesach .. the seventh day
    assert not seen & pesach
    assert date(2027, 5, 11) not in seen  # Yom HaZikaron 5787
    assert date(2027, 5, 12) not in seen  # Yom HaAtzmaut 5787


def test_muslim_holidays_are_avoided_for_forums_that_keep_them() -> None:
    eid = [d for d in (date(2027, 3, 9) + timedelta(days=i) for i in range(5)) if not ARAB_SCHOOL.is_working_day(d)
           and ARAB_SCHOOL.day(d).names and "eid_al_fitr" in {n.key for n in ARAB_SCHOOL.day(d).names}]
    assert eid, "the holidays library knows Eid al-Fitr 2027"
    for day in eid:
        assert GENERAL.is_working_day(day) or day.weekday() in (FRIDAY, SATURDAY)
    seen = assert_all_allowed(ARAB_SCHOOL, offered(ARAB_SCHOOL, "monthly", date(2027, 2, 1), date(2027, 3, 25)))
    assert not seen & set(eid)


def test_the_current_period_is_offered_while_it_leaves_a_real_choice() -> None:
    # 2 November: the rest of November.
    first, last = candidate_window(GENERAL, "monthly", date(2026, 11, 2), meeting_in_current_period=False)
    assert (first.month, last) == (11, date(2026, 11, 30)) and first >= date(2026, 11, 6)
    # ...unless the forum already meets in November.
    assert candidate_window(GENERAL, "monthly", date(2026, 11, 2), meeting_in_current_period=True)[0].month == 12
    # 22 November: too little of November is left after a three-day vote.
    assert candidate_window(GENERAL, "monthly", date(2026, 11, 22), meeting_in_current_period=False) == (
        date(2026, 12, 1), date(2026, 12, 31)
    )


def test_the_default_deadline_is_noon_on_the_third_working_day() -> None:
    assert default_deadline(GENERAL, date(2026, 11, 22), TZ) == datetime(2026, 11, 25, 12, 0, tzinfo=TZ)
    # Opened on Thursday 10 September 2026: Rosh Hashana and Tzom Gedalia do not count.
    assert default_deadline(GENERAL, date(2026, 9, 10), TZ) == datetime(2026, 9, 17, 12, 0, tzinfo=TZ)


# -- typed dates --------------------------------------------------------------------------------

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12/1", (date(2027, 1, 12), None)),
        ("12.1", (date(2027, 1, 12), None)),
        ("12.1.", (date(2027, 1, 12), None)),
        ("12-1", (date(2027, 1, 12), None)),
        ("12 / 1", (date(2027, 1, 12), None)),
        ("12.1.2027", (date(2027, 1, 12), None)),
        ("12/01/27", (date(2027, 1, 12), None)),
        ("2027-01-12", (date(2027, 1, 12), None)),
        ("12/1 18:30", (date(2027, 1, 12), time(18, 30))),
        ("יום ג׳ 12.1 בשעה 17:15", (date(2027, 1, 12), time(17, 15))),
        ("١٢/١", (date(2027, 1, 12), None)),  # Arabic-Indic digits
        ("\u200f12/1\u200e", (date(2027, 1, 12), None)),  # bidi marks pasted from a chat
        ("5/12", (date(2026, 12, 5), None)),
        ("22/11", (date(2026, 11, 22), None)),
    ],
)
def test_typed_dates_are_read_day_first(text: str, expected: tuple[date, time | None]) -> None:
    assert parse_date_time(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("next tuesday", "no_date"),
        ("", "no_date"),
        ("12/1/2027/5", "no_date"),
        ("12/1 18", "no_date"),
        ("31/2", "bad_date"),
        ("12/13", "bad_date"),
        ("21/11", "past"),  # yesterday is a slip, not next November
        ("1/1/2020", "past"),
        ("25.12.2027", "too_far"),
        ("12/1 03:00", "odd_time"),
    ],
)
def test_bad_dates_are_refused_with_a_reason(text: str, key: str) -> None:
    with pytest.raises(DateInputError) as caught:
        parse_date_time(text, TODAY)
    assert caught.value.key == key


def test_times() -> None:
    assert parse_time("17:30") == time(17, 30)
    assert parse_time("17") == time(17, 0)
    assert parse_time("١٧:٣٠") == time(17, 30)
    for text, key in (("5:30", "odd_time"), ("25", "bad_time"), ("evening", "bad_time")):
        with pytest.raises(DateInputError) as caught:
            parse_time(text)
        assert caught.value.key == key


# -- the proposal ------------------------------------------------------------------------------

REQUIRED = frozenset({"principal", "counsellor", "teachers_rep", "parents_committee"})
A = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
B = datetime(2026, 12, 13, 15, 0, tzinfo=UTC)
C = datetime(2026, 12, 21, 15, 0, tzinfo=UTC)


def test_role_coverage_beats_more_votes() -> None:
    roles = {
        1: frozenset({"principal"}),
        2: frozenset({"counsellor"}),
        3: frozenset({"parent"}),
        4: frozenset({"parent"}),
        5: frozenset({"parent"}),
        6: frozenset({"teachers_rep"}),
    }
    ballots = {1: [20], 2: [10, 20], 3: [10], 4: [10], 5: [10], 6: [10, 20]}
    counts = count_votes([(10, A), (20, B)], ballots, roles)
    best = propose(counts, REQUIRED)
    assert best is not None and best.option_id == 20  # 3 voters with the principal beat 5 without
    assert len(counts[0].voters) == 5 and len(counts[1].voters) == 3


def test_then_the_most_voters_then_the_earliest() -> None:
    roles = {1: frozenset({"principal"}), 2: frozenset({"parent"}), 3: frozenset({"parent"})}
    counts = count_votes([(10, A), (20, B), (30, C)], {1: [10, 20, 30], 2: [20, 30], 3: [30]}, roles)
    assert propose(counts, REQUIRED).option_id == 30  # type: ignore[union-attr]
    counts = count_votes([(10, A), (20, B), (30, C)], {1: [10, 20, 30], 2: [20, 30]}, roles)
    assert propose(counts, REQUIRED).option_id == 20  # type: ignore[union-attr]
    counts = count_votes([(30, C), (20, B), (10, A)], {}, roles)
    assert propose(counts, REQUIRED).option_id == 10  # type: ignore[union-attr]
    assert propose([], REQUIRED) is None


def test_between_dates_covering_as_many_roles_the_lead_comes_first() -> None:
    roles = {1: frozenset({"principal"}), 2: frozenset({"counsellor"}), 3: frozenset({"parent"})}
    counts = count_votes([(10, A), (20, B)], {1: [20], 2: [10], 3: [10]}, roles)
    assert propose(counts, REQUIRED).option_id == 10  # type: ignore[union-attr]
    assert propose(counts, REQUIRED, frozenset({"principal"})).option_id == 20  # type: ignore[union-attr]


def test_a_person_holding_two_roles_covers_both_and_counts_once() -> None:
    roles = {1: frozenset({"principal", "teachers_rep"}), 2: frozenset({"counsellor"})}
    [only] = count_votes([(10, A)], {1: [10, 10], 2: [10], 99: [10]}, roles)  # 99 is not a member
    assert only.voters == frozenset({1, 2})
    assert only.coverage(REQUIRED) == 3


def test_missing_and_unseated_required_roles() -> None:
    roles = {1: frozenset({"principal"}), 2: frozenset({"counsellor"}), 3: frozenset({"parent"})}
    assert missing_roles(REQUIRED, roles, [1]) == (
        frozenset({"counsellor"}), frozenset({"teachers_rep", "parents_committee"})
    )
    assert missing_roles(REQUIRED, roles, [1, 2]) == (frozenset(), frozenset({"teachers_rep", "parents_committee"}))
    assert isinstance(OptionCount(1, A, frozenset(), frozenset()).coverage(REQUIRED), int)


# -- when we write to people -------------------------------------------------------------------


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)  # type: ignore[misc]


def test_nothing_is_sent_on_shabbat_or_a_holiday() -> None:
    assert quiet_moment(local(2026, 11, 28, 12), GENERAL) == local(2026, 11, 27, 12)  # Saturday -> Friday noon
    assert quiet_moment(local(2026, 11, 27, 18), GENERAL) == local(2026, 11, 27, 12)  # Friday evening -> noon
    assert quiet_moment(local(2026, 9, 21, 10), GENERAL) == local(2026, 9, 20, 12)  # Yom Kippur -> its eve, noon
    assert quiet_moment(local(2026, 11, 24, 12), GENERAL) == local(2026, 11, 24, 12)


def test_the_poll_reminder_is_a_day_before_the_deadline() -> None:
    opened = local(2026, 11, 22, 9).astimezone(UTC)
    assert reminder_at(opened, local(2026, 11, 25, 12), GENERAL, TZ) == local(2026, 11, 24, 12)
    # A deadline on Sunday noon: not on Shabbat but on Friday noon.
    assert reminder_at(local(2026, 11, 25, 9), local(2026, 11, 29, 12), GENERAL, TZ) == local(2026, 11, 27, 12)
    # A short poll is reminded half-way; a very short one not at all.
    assert reminder_at(local(2026, 11, 24, 9), local(2026, 11, 24, 21), GENERAL, TZ) == local(2026, 11, 24, 15)
    assert reminder_at(local(2026, 11, 24, 9), local(2026, 11, 24, 11), GENERAL, TZ) is None


def test_the_meeting_reminder_is_the_day_before_but_never_on_shabbat() -> None:
    assert meeting_reminder_at(local(2026, 12, 3, 17), GENERAL, TZ) == local(2026, 12, 2, 10)
    assert meeting_reminder_at(local(2026, 12, 13, 17), GENERAL, TZ) == local(2026, 12, 11, 10)  # Sunday -> Friday


def test_nudges_come_from_the_20th_or_from_sunday_on_working_days() -> None:
    assert nudge_period(GENERAL, "monthly", local(2026, 11, 19, 10)) is None
    assert nudge_period(GENERAL, "monthly", local(2026, 11, 22, 8)) is None  # before 09:00
    assert nudge_period(GENERAL, "monthly", local(2026, 11, 22, 9)) == (date(2026, 12, 1), date(2026, 12, 31))
    assert nudge_period(GENERAL, "monthly", local(2026, 11, 21, 10)) is None  # Shabbat
    assert nudge_period(GENERAL, "weekly", local(2026, 11, 22, 9)) == (date(2026, 11, 29), date(2026, 12, 3))


# -- the invitation ------------------------------------------------------------------------------


def test_the_ics_reads_back_in_jerusalem_time() -> None:
    starts = local(2027, 1, 12, 17).astimezone(UTC)
    data = meeting_ics(
        uid="abc@forumbot", sequence=2, starts_at=starts, minutes=90, summary="פגישת פורום השותפים",
        description="x", stamp=datetime(2026, 11, 22, 7, tzinfo=UTC), tz=TZ,
    )
    calendar = icalendar.Calendar.from_ical(data)
    [event] = calendar.events
    assert str(event["UID"]) == "abc@forumbot" and event.sequence == 2
    assert event.start == local(2027, 1, 12, 17) and str(event.start.tzinfo) == "Asia/Jerusalem"
    assert event.end - event.start == timedelta(minutes=90)
    assert str(event["SUMMARY"]) == "פגישת פורום השותפים"
    assert [str(tz["TZID"]) for tz in calendar.timezones] == ["Asia/Jerusalem"]
    assert str(calendar["METHOD"]) == "REQUEST" and str(event["STATUS"]) == "CONFIRMED"
    cancelled = icalendar.Calendar.from_ical(
        meeting_ics(uid="abc@forumbot", sequence=3, starts_at=starts, minutes=90, summary="s", description="d",
                    stamp=starts, tz=TZ, cancelled=True)
    )
    assert str(cancelled["METHOD"]) == "CANCEL" and str(cancelled.events[0]["STATUS"]) == "CANCELLED"


def test_a_date_poll_moves_only_as_its_transition_table_says() -> None:
    from bot.domain.meeting_polls import POLL_TRANSITIONS, PollMoveError, PollStatus, poll_moved

    assert set(POLL_TRANSITIONS) == set(PollStatus)
    reachable, frontier = {PollStatus.DRAFT}, [PollStatus.DRAFT]
    while frontier:
        for target in POLL_TRANSITIONS[frontier.pop()]:
            if target not in reachable:
                reachable.add(target)
                frontier.append(target)
    assert reachable == set(PollStatus)  # every status is a step of some poll's life
    assert poll_moved("open", PollStatus.CLOSED) is PollStatus.CLOSED
    for current, target in [("draft", PollStatus.CLOSED), ("open", PollStatus.DECIDED), ("decided", PollStatus.OPEN),
                            ("cancelled", PollStatus.DECIDED), ("closed", PollStatus.OPEN)]:
        with pytest.raises(PollMoveError):
            poll_moved(current, target)
