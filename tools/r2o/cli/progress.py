"""Live progress of a pipeline run on stderr (the presentation of r2o.pipeline.local's events)."""

from __future__ import annotations

import sys
import time
from typing import Any

from r2o.cli.context import err


class PipelineProgress:
    """Progress on stderr: a live status line (tasks done, running, failed, elapsed) on a terminal, one
    plain line per event otherwise; finished tasks are always listed."""

    def __init__(self) -> None:
        from rich.live import Live

        self.live: Live | None = None
        self.last: Any = None
        self.running: list[str] = []
        self.t0 = time.monotonic()
        if err.is_terminal:
            self.live = Live(self, console=err.console, transient=True, refresh_per_second=4)

    def __enter__(self) -> PipelineProgress:
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()

    def __rich__(self) -> str:
        e = self.last
        if e is None:
            return "starting..."
        shown = ", ".join(self.running[:4]) + (" ..." if len(self.running) > 4 else "")
        return (
            f"{e.done}/{e.total} done, {e.running} running, {e.failed} failed, "
            f"{time.monotonic() - self.t0:.0f} s  {shown}"
        )

    def __call__(self, event: Any) -> None:
        self.last = event
        head = (
            f"[{event.done}/{event.total} done, {event.running} running, {event.failed} failed, "
            f"{event.elapsed:6.1f} s]"
        )
        if event.kind == "started":
            self.running.append(event.task)
            if self.live is None:
                self._line(f"{head} start  {event.task}")
            return
        if event.kind == "note":
            self._line(f"{head} {event.message}")
            return
        if event.task in self.running:
            self.running.remove(event.task)
        rec = event.record
        what = rec.status if rec.cache_hit is None else f"cached ({rec.cache_hit})"
        took = f" {rec.seconds:.1f} s" if rec.seconds is not None else ""
        self._line(f"{head} {what:<14} {event.task}{took}")

    def _line(self, text: str) -> None:
        if self.live is not None:
            self.live.console.print(text, markup=False, highlight=False)
        else:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
