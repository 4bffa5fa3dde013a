"""`forumbot run`: channels, delivery, scheduler and the HTTP server in one process."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator

import uvicorn

from bot.app import App, build_app
from bot.clock import is_simulated
from bot.config import Settings
from bot.storage.migrate import upgrade_async
from bot.web import build_web

log = logging.getLogger("forumbot")

NO_CHANNEL_HINT = """\
forumbot is running with no messenger connected (database: {db}).
To connect Telegram, set TELEGRAM_BOT_TOKEN (from @BotFather) in the environment or in .env.
To connect WhatsApp, set WHATSAPP_TOKEN, WHATSAPP_PHONE_ID, WHATSAPP_APP_SECRET and WHATSAPP_VERIFY_TOKEN.
Meanwhile, try the bot in a terminal:  forumbot console
Health: http://{host}:{port}/healthz · Ctrl-C to stop."""

ChannelStarter = Callable[[App, asyncio.Event], Awaitable[list[asyncio.Task[None]]]]


def channel_starters(settings: Settings) -> list[ChannelStarter]:
    """The channels this configuration turns on (each module adds itself when present)."""
    starters: list[ChannelStarter] = []
    if settings.telegram_enabled:
        from bot.channels.telegram import start_telegram

        starters.append(start_telegram)
    if settings.whatsapp_enabled:
        from bot.channels.whatsapp import start_whatsapp

        starters.append(start_whatsapp)
    return starters


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: SIGINT/SIGTERM set `stop`, and `run` shuts every part
    down in order (uvicorn would otherwise take the signals over while it serves)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def follow_clock(app: App, stop: asyncio.Event, every: float = 1.0) -> None:
    """On a simulated clock, read it again every second: `forumbot clock` may have moved it."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
        try:
            await app.refresh_clock()
        except Exception as exc:  # the database away for a moment: the next round tries again
            log.debug("reading the simulated clock failed: %s", exc)


def freeze_startup_heap() -> None:
    """Move everything built at start-up (modules, the web app, channels) out of the collector's
    sight: a full collection then walks only what the bot made since, and its pauses, which hold
    back a send that has already passed the rate limiter, stay short."""
    gc.collect()
    gc.freeze()


async def run(settings: Settings, *, stop: asyncio.Event | None = None, install_signals: bool = True) -> int:
    from scheduler.clock import tick_forever

    await upgrade_async(settings.effective_database_url)
    app = build_app(settings)
    await app.refresh_clock()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM) if install_signals else ():
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    web = build_web(app)
    app.web = web
    tasks: list[asyncio.Task[None]] = []
    starters = channel_starters(settings)
    try:
        for starter in starters:
            tasks += await starter(app, stop)
    except Exception:
        await app.close()
        raise
    if not starters:
        print(
            NO_CHANNEL_HINT.format(
                db=settings.effective_database_url, host=settings.http_host, port=settings.http_port
            ),
            flush=True,
        )

    server = QuietServer(
        uvicorn.Config(web, host=settings.http_host, port=settings.http_port, log_level="warning", lifespan="off")
    )
    tasks.append(asyncio.create_task(server.serve(), name="http"))
    tasks.append(asyncio.create_task(app.delivery.run(stop), name="delivery"))
    tasks.append(asyncio.create_task(tick_forever(app, stop), name="scheduler"))
    if is_simulated(app.clock):
        tasks.append(asyncio.create_task(follow_clock(app, stop), name="clock"))
        log.warning("the clock is simulated (FORUMBOT_SIMULATED_CLOCK): it is %s", app.clock.now().isoformat())
    freeze_startup_heap()
    log.info("forumbot started: channels=%s", ",".join(sorted(app.senders)) or "none")
    try:
        await stop.wait()
    finally:
        server.should_exit = True
        # Channels and delivery stop on `stop` by themselves; give them a moment, then cancel.
        _done, pending = await asyncio.wait(tasks, timeout=10)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        stats = app.delivery.stats
        log.info("delivery stats: sent=%d retried=%d failed=%s", stats.sent, stats.retried, stats.failed)
        await app.close()
    return 0
