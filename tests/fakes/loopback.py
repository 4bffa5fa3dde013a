"""Serving a fake API over real HTTP on a free loopback port."""

from __future__ import annotations

import socket
from typing import Self

from aiohttp import web


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    """Start ``app`` on 127.0.0.1 at a port the OS picks; returns the runner (to clean up) and the port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    return runner, sock.getsockname()[1]


class LoopbackServer:
    """A fake API's lifecycle: ``async with`` serves its application on loopback and stops it after.

    A subclass builds its routes in :meth:`application`; ``port`` is 0 until it is started.
    """

    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def application(self) -> web.Application:
        """The aiohttp application that answers as the real API would."""
        raise NotImplementedError

    async def start(self) -> None:
        self._runner, self.port = await serve(self.application())

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
