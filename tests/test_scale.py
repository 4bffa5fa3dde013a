"""Two `forumbot run` processes on PostgreSQL + Redis share the work and the bot's rate limit."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.storage.db import Database
from bot.storage.models import OutboxMessage, ProcessedUpdate
from tests.fakes.telegram import FakeTelegram
from tests.helpers import queue_broadcast
from tests.test_ratelimit import REDIS_URL, redis_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

BROADCAST = 2500
USERS = 300
RATE = 200  # what the bot allows itself; the fake enforces 300/s, 1/s per chat
SECRET = "scale-test-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def update_for(user_id: int, update_id: int) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1764000000,
            "text": "/help",
            "chat": {"id": user_id, "type": "private", "first_name": "U"},
            "from": {"id": user_id, "is_bot": False, "first_name": "U", "language_code": "en"},
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }


async def test_two_processes_share_delivery_and_updates(postgres_url: str, tmp_path: Path) -> None:
    await redis_or_skip()
    async with FakeTelegram(enforce_limits=True, global_per_second=300, per_chat_per_second=1) as fake:
        db = Database(postgres_url)
        from tests.conftest import _truncate_postgres

        await _truncate_postgres(postgres_url)
        broadcast_chats = list(range(500_000, 500_000 + BROADCAST))
        for chat in broadcast_chats:
            fake.user(chat, f"P{chat}")
        users = list(range(700_000, 700_000 + USERS))
        for chat in users:
            fake.user(chat, f"U{chat}", language_code="en")
        ports = [free_port(), free_port()]
        namespace = f"scale-{uuid.uuid4().hex[:8]}"
        procs = []
        for port in ports:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_"))}
            env.update(
                {
                    "DATABASE_URL": postgres_url,
                    "REDIS_URL": REDIS_URL,
                    "FORUMBOT_REDIS_NAMESPACE": namespace,
                    "FORUMBOT_DATA_DIR": str(tmp_path),
                    "TELEGRAM_BOT_TOKEN": fake.token,
                    "TELEGRAM_API_SERVER": fake.base_url,
                    "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
                    "TELEGRAM_WEBHOOK_SECRET": SECRET,
                    "TELEGRAM_RATE_PER_SECOND": str(RATE),
                    "FORUMBOT_HTTP_PORT": str(port),
                    "FORUMBOT_LOG_LEVEL": "INFO",
                }
            )
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bot", "run"],
                    env=env,
                    cwd=tmp_path,
                    stdout=subprocess.DEVNULL,
                    stderr=(tmp_path / f"bot-{port}.log").open("w"),  # a file: a full pipe would stall the bot
                    text=True,
                )
            )
        try:
            await fake.wait_for_count(2, method="setWebhook", timeout=60)
            await queue_broadcast(postgres_url, broadcast_chats, text="announcement #{chat}",
                                  dedup_key="broadcast:test:{chat}")
            # Updates from many users, spread over both processes; one in ten delivered to both.
            rng = random.Random(7)
            async with aiohttp.ClientSession() as http:

                async def post(port: int, body: dict[str, object]) -> int:
                    async with http.post(
                        f"http://127.0.0.1:{port}/telegram/webhook",
                        json=body,
                        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                    ) as response:
                        return response.status

                jobs = []
                for i, user in enumerate(users):
                    body = update_for(user, 10_000 + i)
                    targets = ports if rng.random() < 0.1 else [rng.choice(ports)]
                    jobs += [post(port, body) for port in targets]
                statuses = await asyncio.gather(*jobs)
            assert set(statuses) == {200}

            async def pending() -> int:
                async with db.sessions() as session:
                    return int(
                        await session.scalar(
                            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")
                        )
                        or 0
                    )

            deadline = asyncio.get_running_loop().time() + 120
            while await pending() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.5)
            if await pending():
                async with db.sessions() as session:
                    rows = (await session.execute(select(OutboxMessage.status, OutboxMessage.attempts,
                            OutboxMessage.last_error).where(OutboxMessage.status != "sent"))).all()
                raise AssertionError(f"not sent: {rows[:10]}")
        finally:

            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(timeout=60)
            logs = [(tmp_path / f"bot-{port}.log").read_text() for port in ports]
            await db.dispose()

        sent = [m for m in fake.sent_messages() if m.method == "sendMessage"]
        per_chat: dict[int, int] = {}
        for message in sent:
            per_chat[message.chat_id] = per_chat.get(message.chat_id, 0) + 1
        assert all(per_chat.get(chat) == 1 for chat in broadcast_chats), "a broadcast message was lost or doubled"
        assert all(per_chat.get(user) == 1 for user in users), "an update was not answered exactly once"
        assert len(sent) == BROADCAST + USERS
        assert fake.limit_violations == []
        async with Database(postgres_url).sessions() as session:
            handled = await session.scalar(select(func.count()).select_from(ProcessedUpdate))
        assert handled == USERS
        # Both processes sent a real share of the messages.
        counts = [int(m.group(1)) for log in logs for m in [re.search(r"delivery stats: sent=(\d+)", log)] if m]
        assert len(counts) == 2 and sum(counts) == BROADCAST + USERS
        assert min(counts) > (BROADCAST + USERS) * 0.2, counts
