"""The meeting invitation read back by an independent parser (vobject, whose time zones come from
the file's own VTIMEZONE through dateutil, never from zoneinfo): summer and winter dates and the
days the clocks change read at the time the forum set."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import vobject

from bot.domain.meeting_polls import ICS_ORGANIZER, meeting_ics

TZ = ZoneInfo("Asia/Jerusalem")
STAMP = datetime(2026, 11, 22, 7, tzinfo=UTC)


def ics(starts: datetime, **kwargs: object) -> bytes:
    values: dict[str, object] = {
        "uid": "m1@forumbot", "sequence": 0, "starts_at": starts.astimezone(UTC), "minutes": 90,
        "summary": "פגישת פורום השותפים", "description": "סדר היום:\n1. בטיחות בחצר", "stamp": STAMP, "tz": TZ,
    }
    values.update(kwargs)
    return meeting_ics(**values)  # type: ignore[arg-type]


def parsed(data: bytes) -> vobject.base.Component:
    return vobject.readOne(data.decode("utf-8"))


@pytest.mark.parametrize(
    "wall",
    [
        datetime(2027, 1, 12, 17, 0, tzinfo=TZ),  # winter
        datetime(2027, 6, 15, 17, 0, tzinfo=TZ),  # summer
        datetime(2027, 3, 25, 17, 0, tzinfo=TZ),  # the day before summer time (Friday 26 March 2027)
        datetime(2027, 3, 26, 17, 0, tzinfo=TZ),  # the change day itself
        datetime(2027, 10, 30, 17, 0, tzinfo=TZ),  # the day before winter time (Sunday 31 October 2027)
        datetime(2027, 10, 31, 17, 0, tzinfo=TZ),  # the change day itself
        datetime(2029, 3, 22, 17, 0, tzinfo=TZ),  # 2029: the Friday before the last Sunday is the 23rd, not the 30th
        datetime(2029, 3, 23, 17, 0, tzinfo=TZ),
        datetime(2029, 3, 29, 17, 0, tzinfo=TZ),
        datetime(2030, 8, 6, 18, 30, tzinfo=TZ),
    ],
)
def test_an_independent_parser_reads_the_meeting_at_the_time_it_was_set(wall: datetime) -> None:
    starts = wall
    event = parsed(ics(starts)).vevent
    start = event.dtstart.value
    assert not isinstance(start.tzinfo, ZoneInfo)  # the file's own VTIMEZONE, read by dateutil
    assert (start.date(), start.time()) == (wall.date(), wall.time())  # 17:00 reads 17:00
    assert start.astimezone(UTC) == starts.astimezone(UTC)  # a summer meeting at 17:00 is 14:00 UTC
    assert start.utcoffset() == starts.utcoffset()
    assert event.dtend.value - start == timedelta(minutes=90)


def test_the_zone_is_two_yearly_rules_that_match_zoneinfo_for_years() -> None:
    text = ics(datetime(2027, 6, 15, 17, tzinfo=TZ)).decode()
    zone = text[text.index("BEGIN:VTIMEZONE"): text.index("END:VTIMEZONE")]
    assert zone.count("RRULE:FREQ=YEARLY") == 2 and "RDATE" not in zone
    parsed_zone = parsed(text.encode()).vtimezone.gettzinfo()
    assert not isinstance(parsed_zone, ZoneInfo)
    day = date(2026, 1, 1)
    while day < date(2041, 1, 1):
        for hour in range(24):
            moment = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
            assert moment.astimezone(parsed_zone).utcoffset() == moment.astimezone(TZ).utcoffset(), moment
        day += timedelta(days=1)


def test_request_with_organizer_location_and_agenda_and_cancel_keeps_the_organizer() -> None:
    starts = datetime(2027, 6, 15, 17, tzinfo=TZ)
    calendar = parsed(ics(starts, organizer="פורום השותפים של בית ספר אלונים", location="https://meet.example/abc"))
    assert calendar.method.value == "REQUEST"
    event = calendar.vevent
    assert event.organizer.value == ICS_ORGANIZER
    assert event.organizer.params["CN"] == ["פורום השותפים של בית ספר אלונים"]
    assert event.location.value == "https://meet.example/abc"
    assert event.description.value == "סדר היום:\n1. בטיחות בחצר"
    assert event.status.value == "CONFIRMED"
    cancelled = parsed(ics(starts, sequence=3, cancelled=True, organizer="פורום"))
    assert cancelled.method.value == "CANCEL"
    assert cancelled.vevent.status.value == "CANCELLED" and cancelled.vevent.sequence.value == "3"
    assert cancelled.vevent.organizer.value == ICS_ORGANIZER
    assert "location" not in cancelled.vevent.contents or not cancelled.vevent.location.value
