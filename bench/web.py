"""The web page at national scale: HQ's board, tree, trends and national picture, and a district's
board, over the data ``bench.escalation`` builds (5,265 units, 50,000 members, 20,000 open issues).

Each page is requested through the FastAPI app itself (ASGI, no network), signed in as HQ's lead,
``--runs`` times after a first request (timed apart: the first trends or national page of a process
reads the country's issues once); prints the server time's median and p95 per page and the peak
memory (Python allocations traced over all the runs, and the process's peak RSS), on SQLite and on
PostgreSQL. Target: p95 ≤ 300 ms per page.

    python -m bench.web [--only sqlite|postgres] [--runs 20] [--profile]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

import httpx

from bench.common import peak_rss_mb, run, scratch_database
from bench.escalation import NOW, seed
from bot.app import App
from bot.clock import FixedClock
from bot.config import Settings
from bot.services.web import sessions as websessions
from bot.storage.db import Database
from bot.web import build_web
from bot.webapp.routes import COOKIE

TARGET_MS = 300.0


def pages() -> dict[str, str]:
    return {
        "HQ board": "/web/board/1",
        "HQ tree": "/web/tree/1",
        "HQ trends": "/web/trends/1",
        "national picture": "/web/national",
        "national JSON": "/web/national.json",
        "district board": "/web/board/2",
        "district tree": "/web/tree/2",
    }


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def one(kind: str, runs: int) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        async with scratch_database(kind, Path(folder)) as url:
            seeding = Database(url)
            try:
                counts = await seed(seeding)
            finally:
                await seeding.dispose()
            settings = Settings(DATABASE_URL=url, FORUMBOT_DATA_DIR=folder, _env_file=None)  # type: ignore[call-arg]
            app = App(settings=settings, db=Database(url), clock=FixedClock(NOW))
            ok = True
            try:
                async with app.db.unit_of_work() as session:  # person 1 leads HQ, person 2 district 2
                    opened = await websessions.open_session(session, 1, NOW, timedelta(hours=12), "link")
                transport = httpx.ASGITransport(app=build_web(app))
                async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                             cookies={COOKIE: opened.cookie}) as http:
                    print(f"{kind}: seeded {counts}")
                    for name, path in pages().items():
                        started = time.perf_counter()
                        first = await http.get(path)
                        cold = (time.perf_counter() - started) * 1000
                        assert first.status_code == 200, (path, first.status_code, first.text[:300])
                        times = []
                        for _ in range(runs):
                            started = time.perf_counter()
                            response = await http.get(path)
                            times.append((time.perf_counter() - started) * 1000)
                            assert response.status_code == 200
                        worst = p95(times)
                        ok = ok and worst <= TARGET_MS
                        print(f"{kind}: {name:17} {len(first.content) / 1024:5.0f} KB  first {cold:5.0f} ms  median "
                              f"{statistics.median(times):6.0f} ms  p95 {worst:6.0f} ms"
                              f"{'' if worst <= TARGET_MS else '  OVER ' + str(int(TARGET_MS)) + ' ms'}")
                    tracemalloc.start()  # a second pass for memory: tracing slows the pages down
                    for path in pages().values():
                        assert (await http.get(path)).status_code == 200
                    _, traced = tracemalloc.get_traced_memory()
                    tracemalloc.stop()
                    print(f"{kind}: peak traced {traced / 2**20:.1f} MB, peak RSS {peak_rss_mb():.0f} MB")
            finally:
                await app.close()
            return ok




async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    for kind in ("sqlite", "postgres"):
        if args.only in (None, kind):
            await one(kind, args.runs)


if __name__ == "__main__":
    run(main())
