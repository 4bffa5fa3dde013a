"""A `forumbot` process driven like a terminal: lines typed one at a time, output read as it comes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

WAIT = 60.0  # how long to wait for something that must come (a failure, not a measurement)


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WHATSAPP_", "DATABASE_"))}
    env.update({"FORUMBOT_DATA_DIR": str(tmp_path / "var"), "FORUMBOT_LOG_LEVEL": "WARNING"})
    env.update(extra)
    return env


class Terminal:
    """`forumbot console --as NAME` (or any long-running command) in its own process."""

    def __init__(self, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env or env_for(tmp_path), cwd=tmp_path, bufsize=1,
        )
        self.output = ""
        self.errors = ""
        self.mark = 0  # where the output of the last typed line starts
        self._lock = threading.Lock()
        threading.Thread(target=self._read, args=(self.proc.stdout, "output"), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, "errors"), daemon=True).start()

    def _read(self, stream: object, name: str) -> None:
        assert stream is not None
        for chunk in iter(lambda: stream.read(1), ""):  # type: ignore[attr-defined]
            with self._lock:
                setattr(self, name, getattr(self, name) + chunk)

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        with self._lock:
            self.mark = len(self.output)
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait_for(self, text: str, *, since: int | None = None) -> str:
        """Wait until `text` shows (after `since`, by default after the last typed line)."""
        start = self.mark if since is None else since
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self._lock:
                seen = self.output[start:]
            if text in seen:
                return seen
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never showed; the terminal shows:\n{self.output[start:]}\n{self.errors}")

    def number_of(self, label: str) -> str:
        """The number shown next to an option (the latest one with that label)."""
        with self._lock:
            found = re.findall(rf"^\s+(\d+)\) {re.escape(label)}$", self.output, flags=re.M)
        assert found, f"no option {label!r} on the screen:\n{self.output[-2000:]}"
        return found[-1]

    def press(self, label: str, then: str) -> str:
        self.type(self.number_of(label))
        return self.wait_for(then)

    def say(self, line: str, then: str) -> str:
        self.type(line)
        return self.wait_for(then)

    def close(self) -> str:
        if self.proc.poll() is None:
            self.type("/quit")
            try:
                self.proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.output
