"""Webhook bodies: how much a `forumbot run` process grows when sent large unsigned bodies.

    python -m bench.body_limit [--megabytes 200] [--parallel 4]

Starts `forumbot run` with WhatsApp configured (its Graph API address points nowhere: nothing is
sent), POSTs ``--parallel`` bodies of ``--megabytes`` each to /webhooks/whatsapp at once (declared
Content-Length, streamed), and prints the process's resident memory before and after, and the
statuses it answered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # the peak resident set
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def post(port: int, megabytes: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    size = megabytes * 1024 * 1024
    writer.write(
        f"POST /webhooks/whatsapp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n".encode()
    )
    answer = asyncio.ensure_future(reader.readline())
    chunk = b" " * (1024 * 1024)
    try:
        for _ in range(megabytes):
            if answer.done():
                break
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    try:
        line = await asyncio.wait_for(answer, timeout=120)
    finally:
        writer.close()
    return int(line.split()[1]) if line else 0


async def main(megabytes: int, parallel: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_", "DATABASE_"))}
        env.update(
            {
                "FORUMBOT_DATA_DIR": folder,
                "FORUMBOT_HTTP_PORT": str(port),
                "WHATSAPP_TOKEN": "t",
                "WHATSAPP_PHONE_ID": "1",
                "WHATSAPP_APP_SECRET": "s",
                "WHATSAPP_VERIFY_TOKEN": "v",
                "WHATSAPP_API_BASE": f"http://127.0.0.1:{free_port()}",
            }
        )
        bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=folder, stderr=subprocess.DEVNULL)
        try:
            for _ in range(200):
                try:
                    _, w = await asyncio.open_connection("127.0.0.1", port)
                    w.close()
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            before = rss_mb(bot.pid)
            statuses = await asyncio.gather(*(post(port, megabytes) for _ in range(parallel)))
            after = rss_mb(bot.pid)
        finally:
            bot.terminate()
            bot.wait(timeout=30)
    print(
        f"{parallel} x {megabytes} MB unsigned POSTs: statuses {sorted(statuses)}; "
        f"peak RSS {before:.0f} MB before, {after:.0f} MB after (+{after - before:.0f} MB)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.megabytes, args.parallel))
