"""The simulated clock (FORUMBOT_SIMULATED_CLOCK): one time for `run`, every console and `jobs run-due`."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ClockRefused, SimulatedClock, SystemClock, parse_duration
from bot.storage.db import Database
from tests.conftest import DEMO_ORG
from tests.terminal import WAIT, Terminal, env_for
from tests.test_cli import forumbot, free_port
from tests.test_console import SCHOOL, register

ON = {"FORUMBOT_SIMULATED_CLOCK": "true"}


def health(port: int) -> dict[str, object]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                return dict(json.loads(response.read().decode()))
        except OSError:
            time.sleep(0.2)
    raise AssertionError("no /healthz")


def clock_of(port: int, day: str) -> dict[str, object]:
    """/healthz's clock, once the running bot has read the moved clock (it reads it every second)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        body = health(port)
        clock = body["clock"]
        assert isinstance(clock, dict)
        if str(clock.get("now", "")).startswith(day):
            return clock
        time.sleep(0.2)
    raise AssertionError(f"the running bot never reached {day}: {health(port)}")


@pytest.mark.slow
def test_run_consoles_and_jobs_share_one_simulated_clock(tmp_path: Path) -> None:
    env = env_for(tmp_path, **ON)
    assert forumbot(tmp_path, "org", "import", str(DEMO_ORG), env=ON).returncode == 0
    moved = forumbot(tmp_path, "clock", "set", "2027-01-03T09:00", env=ON)  # a Sunday, in Jerusalem
    assert moved.returncode == 0, moved.stderr
    assert "the clock is now 2027-01-03 09:00 Sunday (Asia/Jerusalem)" in moved.stdout
    code = forumbot(tmp_path, "invite", "--forum", SCHOOL, "--role", "principal", env=ON).stdout.split()[1]

    port = free_port()
    bot = Terminal(tmp_path, "run", env={**env, "FORUMBOT_HTTP_PORT": str(port)})
    dana = Terminal(tmp_path, "console", "--as", "dana", env=env)
    try:
        assert clock_of(port, "2027-01-03")["simulated"] is True
        register(dana, code, "דנה")
        dana.say("/poll", "ההצבעה נסגרת ביום רביעי, 6 בינואר 2027 בשעה 12:00")  # the console's "today" is simulated
        dana.press("📣 פרסום", "▫️ יום א׳ 10.1 · 17:00")
        dana.press("▫️ יום א׳ 10.1 · 17:00", "✅ יום א׳ 10.1 · 17:00")
        before = len(dana.output)

        advanced = forumbot(tmp_path, "clock", "advance", "4d", env=ON)  # past the vote's close
        assert advanced.returncode == 0, advanced.stderr
        assert "the clock is now 2027-01-07 09:00 Thursday" in advanced.stdout
        # The steps that became due ran in that command; dana's console, waiting, shows what they sent.
        dana.wait_for("ההצבעה על מועד הפגישה של", since=before)
        assert clock_of(port, "2027-01-07")["simulated"] is True

        again = forumbot(tmp_path, "jobs", "run-due", env=ON)  # the same instant: nothing runs twice
        assert again.returncode == 0, again.stderr
        assert all(line.endswith(": 0") for line in again.stdout.splitlines()), again.stdout
        shown = forumbot(tmp_path, "clock", "show", env=ON).stdout
        assert shown.startswith("simulated: 2027-01-07 09:0")
    finally:
        bot.proc.terminate()
        bot.proc.wait(timeout=WAIT)
        out = dana.close()
    assert out.count("ההצבעה על מועד הפגישה של") == 1
    assert "Traceback" not in dana.errors + bot.errors


def test_the_clock_is_refused_unless_the_setting_is_on(tmp_path: Path) -> None:
    refused = forumbot(tmp_path, "clock", "advance", "7d")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "forumbot: the clock is the real one; to move it, run the whole deployment with FORUMBOT_SIMULATED_CLOCK=true"
    )
    assert "FORUMBOT_SIMULATED_CLOCK is off" in forumbot(tmp_path, "clock", "show").stdout
    for args, expected in [
        (["clock", "advance", "soon"], "'soon' is not a duration"),
        (["clock", "set", "tomorrow"], "clock set 'tomorrow' is not an ISO 8601 date-time"),
    ]:
        result = forumbot(tmp_path, *args, env=ON)
        assert result.returncode == 2 and expected in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_durations() -> None:
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration("1d12h") == timedelta(days=1, hours=12)
    assert parse_duration("2w 3h") == timedelta(weeks=2, hours=3)
    for bad in ("", "7", "0d", "-1d", "7x", "d7"):
        with pytest.raises(ValueError):
            parse_duration(bad)


class Stopped:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


async def test_a_simulated_clock_moves_forward_only_and_resets(database_url: str) -> None:
    real = Stopped(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    db = Database(database_url)
    one, other = SimulatedClock(db, real), SimulatedClock(db, real)  # two processes
    try:
        await one.refresh()
        assert one.now() == real.at and not one.moved
        target = datetime(2027, 1, 17, 6, 0, tzinfo=UTC)
        assert await one.set(target) == target
        await other.refresh()
        assert other.now() == target and other.moved
        real.at += timedelta(minutes=5)  # it runs on at the real pace
        assert other.now() == target + timedelta(minutes=5)
        assert await other.advance(timedelta(days=7)) == target + timedelta(days=7, minutes=5)
        with pytest.raises(ClockRefused):
            await one.set(target)
        await one.reset()
        await other.refresh()
        assert other.now() == real.at and not other.moved
    finally:
        await db.dispose()
    assert not isinstance(SystemClock(), SimulatedClock)


def test_never_on_by_default() -> None:
    from bot.config import Settings

    assert Settings(_env_file=None).simulated_clock is False  # type: ignore[call-arg]
    assert Settings(_env_file=None, FORUMBOT_SIMULATED_CLOCK="true").simulated_clock is True  # type: ignore[call-arg]
