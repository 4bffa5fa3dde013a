"""The WhatsApp parts of the command line, run as real processes."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from bot.channels.whatsapp import load_templates
from tests.conftest import DEMO_ORG
from tests.fakes.whatsapp import FakeWhatsApp
from tests.test_cli import forumbot


async def aforumbot(tmp_path: Path, *args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """`forumbot ...` as a process, without blocking the event loop the fake serves on."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_", "DATABASE_"))}
    full_env.update({"FORUMBOT_DATA_DIR": str(tmp_path / "var"), "FORUMBOT_LOG_LEVEL": "WARNING", **env})
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=full_env, cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


def test_templates_print_in_metas_form(tmp_path: Path) -> None:
    result = forumbot(tmp_path, "whatsapp", "templates")
    assert result.returncode == 0
    printed = json.loads(result.stdout)
    assert printed == load_templates()
    assert {(t["name"], t["language"]) for t in printed} == {
        (name, language) for name in ("forumbot_update", "forumbot_digest") for language in ("he", "ar", "en")
    }
    assert all(t["category"] == "UTILITY" for t in printed)
    for template in printed:
        kinds = [c["type"] for c in template["components"]]
        assert kinds == ["BODY", "FOOTER", "BUTTONS"]
        assert template["components"][2]["buttons"][0]["type"] == "QUICK_REPLY"


async def test_templates_submit_against_the_graph_api(tmp_path: Path) -> None:
    async with FakeWhatsApp(auto_approve=False) as fake:
        code, out, err = await aforumbot(tmp_path, "whatsapp", "templates", "--submit", env=fake.settings())
        assert code == 0, err
        assert out.count("PENDING") == 6 and "forumbot_update [he]" in out and "forumbot_digest [ar]" in out
        names = ("forumbot_update", "forumbot_digest")
        assert set(fake.templates) == {(name, lang) for name in names for lang in ("he", "ar", "en")}
        code, out, err = await aforumbot(tmp_path, "whatsapp", "templates", "--submit", env=fake.settings())
        assert code == 1 and err.count("refused") == 6 and "Traceback" not in err


def test_templates_submit_needs_the_business_account(tmp_path: Path) -> None:
    result = forumbot(tmp_path, "whatsapp", "templates", "--submit", env={"WHATSAPP_TOKEN": "t"})
    assert result.returncode == 2 and "WHATSAPP_WABA_ID" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_run_refuses_to_start_whatsapp_without_the_app_secret(tmp_path: Path) -> None:
    env = {"WHATSAPP_TOKEN": "t", "WHATSAPP_PHONE_ID": "1", "WHATSAPP_VERIFY_TOKEN": "v", "FORUMBOT_HTTP_PORT": "0"}
    result = forumbot(tmp_path, "run", env=env, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("forumbot: setting WHATSAPP_APP_SECRET: required")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_invite_prints_the_wa_me_link(tmp_path: Path) -> None:
    assert forumbot(tmp_path, "org", "import", str(DEMO_ORG)).returncode == 0
    env = {"WHATSAPP_DISPLAY_NUMBER": "+972 50-123-4567"}
    result = forumbot(tmp_path, "invite", "--forum", "S-DEMO-210101", "--role", "principal", env=env)
    assert result.returncode == 0, result.stderr
    code = result.stdout.split("code: ")[1].split()[0]
    assert f"whatsapp: https://wa.me/972501234567?text={code}" in result.stdout
