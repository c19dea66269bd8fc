"""Progress on rank 0: a rich progress bar on a terminal, plain log lines otherwise.

Used for the time loop (simulated time, steps, estimated time left) and for sweeps (cases).
"""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("heterofem")


class Progress:
    def __init__(self, total: float, what: str, unit: str, rank: int, every_fraction: float = 0.1):
        self.total, self.what, self.unit = total, what, unit
        self.enabled = rank == 0
        self._bar = None
        self._next_line = every_fraction
        self._every = every_fraction
        self._t0 = time.perf_counter()
        if self.enabled and sys.stderr.isatty():
            from rich.progress import (BarColumn, Progress as RichProgress, TextColumn,
                                       TimeRemainingColumn)

            self._bar = RichProgress(TextColumn(f"{what}"), BarColumn(),
                                     TextColumn("{task.completed:.4g}/{task.total:.4g} " + unit),
                                     TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                     transient=True)
            self._task = self._bar.add_task(what, total=total, info="")
            self._bar.start()

    def update(self, done: float, info: str = "") -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=done, info=info)
            return
        fraction = done / self.total if self.total else 1.0
        if fraction + 1e-12 >= self._next_line:
            elapsed = time.perf_counter() - self._t0
            left = elapsed * (1 - fraction) / fraction if fraction > 0 else float("nan")
            log.info("%s: %.4g/%.4g %s (%.0f %%) %s, about %.0f s left", self.what, done,
                     self.total, self.unit, 100 * fraction, info, left)
            while self._next_line <= fraction + 1e-12:
                self._next_line += self._every

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
