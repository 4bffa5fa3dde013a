"""The command line, run as a real process, as an operator would."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import DEMO_ORG

COMMANDS = ["run", "db", "org", "forum", "roles", "invite", "console", "admin", "jobs", "whatsapp", "export", "i18n",
            "clock", "demo", "weblink"]


def forumbot(tmp_path: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_", "DATABASE_"))}
    full_env.update({"FORUMBOT_DATA_DIR": str(tmp_path / "var"), "FORUMBOT_LOG_LEVEL": "WARNING"})
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True, env=full_env,
        cwd=tmp_path, timeout=timeout,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(tmp_path: Path, command: str) -> None:
    result = forumbot(tmp_path, command, "--help")
    assert result.returncode == 0 and "usage: forumbot" in result.stdout


def test_operator_walkthrough(tmp_path: Path) -> None:
    assert forumbot(tmp_path, "db", "upgrade").returncode == 0
    imported = forumbot(tmp_path, "org", "import", str(DEMO_ORG))
    assert imported.returncode == 0, imported.stderr
    assert "imported 30 units: 30 new" in imported.stdout
    again = forumbot(tmp_path, "org", "import", str(DEMO_ORG))
    assert "0 new, 0 updated, 30 unchanged" in again.stdout
    roles = forumbot(tmp_path, "roles", "--tier", "school")
    assert "principal\tמנהל/ת בית הספר\tSchool principal\t[lead,required]" in roles.stdout
    invite = forumbot(tmp_path, "invite", "--forum", "S-DEMO-210101", "--role", "principal")
    assert invite.returncode == 0, invite.stderr
    code = invite.stdout.split("code: ")[1].split()[0]
    assert "<bot username>" not in invite.stdout and "set TELEGRAM_BOT_TOKEN" in invite.stdout
    assert f"/start {code}" in invite.stdout
    chat = forumbot(tmp_path, "console", "--as", "dana",
                    stdin=f"/start {code}\n1\n4\nדנה לוי\n7\n/forums\n/quit\n")
    assert chat.returncode == 0, chat.stderr
    assert "ברוכה הבאה, דנה לוי!" in chat.stdout and "את מובילה את הפורום" in chat.stdout
    assert "Traceback" not in chat.stderr
    forums = forumbot(tmp_path, "forum", "create", "--unit", "D-HAIFA", "--kind", "crosscut")
    assert forums.stdout.strip() == "D-HAIFA-crosscut"
    due = forumbot(tmp_path, "jobs", "run-due", "--now", "2026-11-23T08:00:00")
    assert due.returncode == 0 and "housekeeping: 1" in due.stdout
    assert "housekeeping: 0" in forumbot(tmp_path, "jobs", "run-due", "--now", "2026-11-23T08:10:00").stdout


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["invite", "--forum", "NOPE", "--role", "principal"], {}, "There is no forum with the code NOPE."),
        (["invite", "--forum", "HQ", "--role", "principal"], {}, "The role principal does not belong"),
        (["org", "import", "missing.csv"], {}, "cannot read missing.csv"),
        (["roles"], {"FORUMBOT_TIMEZONE": "Mars/Olympus"}, "setting FORUMBOT_TIMEZONE: "),
        (["roles"], {"DATABASE_URL": "mysql://x"}, "setting DATABASE_URL: "),
        (["jobs", "run-due", "--now", "tomorrow"], {}, "is not an ISO 8601 date-time"),
    ],
)
def test_mistakes_are_one_line_and_a_nonzero_exit(tmp_path: Path, args: list[str], env: dict[str, str],
                                                  expected: str) -> None:
    if args[0] == "invite":
        forumbot(tmp_path, "org", "import", str(DEMO_ORG))
    result = forumbot(tmp_path, *args, env=env)
    assert result.returncode == 2
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_csv_imports_nothing_and_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,tier,parent_code\nHQ,מטה,hq,\nX1,משהו,galaxy,HQ\n", encoding="utf-8")
    result = forumbot(tmp_path, "org", "import", str(bad))
    assert result.returncode == 2
    assert f"{bad}:3: tier 'galaxy' is not one of" in result.stderr
    assert "nothing was imported" in result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_without_channels_explains_and_serves_health(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_", "DATABASE_"))}
    env.update({"FORUMBOT_DATA_DIR": str(tmp_path / "var"), "FORUMBOT_HTTP_PORT": str(port)})
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path)
    try:
        body = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.2)
        assert '"status":"ok"' in body and '"clock":{"simulated":false}' in body  # never on by default
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "TELEGRAM_BOT_TOKEN" in out and "forumbot console" in out


@pytest.mark.parametrize("args", [["roles"], ["invite", "--forum", "S-DEMO-210101", "--role", "parent"]])
def test_a_closed_pipe_is_quiet(tmp_path: Path, args: list[str]) -> None:
    """`forumbot invite … | head -1`: the reader leaves early; no traceback."""
    if args[0] == "invite":
        forumbot(tmp_path, "org", "import", str(DEMO_ORG))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_", "DATABASE_"))}
    env.update({"FORUMBOT_DATA_DIR": str(tmp_path / "var"), "FORUMBOT_LOG_LEVEL": "WARNING"})
    read, write = os.pipe()
    os.close(read)  # nobody will read: the first write breaks the pipe
    try:
        result = subprocess.run([sys.executable, "-m", "bot", *args], stdout=write, stderr=subprocess.PIPE,
                                text=True, env=env, cwd=tmp_path, timeout=60)
    finally:
        os.close(write)
    assert result.returncode == 0 and result.stderr == ""


def test_i18n_check_says_ok_with_counts(tmp_path: Path) -> None:
    result = forumbot(tmp_path, "i18n", "check")
    assert result.returncode == 0
    assert re.fullmatch(r"ok: \d+ messages, translated in he and ar \(English comes from the msgids\)\n", result.stdout)
