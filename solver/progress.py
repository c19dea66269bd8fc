"""Progress on rank 0: a rich progress bar on a terminal, plain log lines otherwise.

Used for the time loop (simulated time, steps, estimated time left) and for sweeps (cases).
The time left is wall time: the progress still to make divided by the recent rate of
progress per wall second, smoothed (:class:`Eta`). A time loop's steps grow as it goes
(adaptive stepping), so the rate over the whole run so far (what a bar's own estimate uses
when the progress counted is simulated time) overestimates the time left many times over.
"""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger("heterofem")


class Eta:
    """Wall time left from the recent rate of progress.

    The rate r = d(done)/d(wall) (simulated time per wall second, or cases per second) is an
    exponential moving average over the updates (time steps): each update mixes in its own
    rate d / dt_wall with weight ``alpha`` (0.25: the last ~4-8 steps count), so the slow
    start (compiling the forms, the first tiny steps) is forgotten after a few steps, while one
    slow step (a rejected step, more Newton iterations) moves the estimate only a little.
    Time left = (total - done) / r.
    """

    def __init__(self, total: float, alpha: float = 0.25, clock=time.perf_counter):
        self.total, self.alpha, self.clock = float(total), float(alpha), clock
        self.rate: float | None = None
        self._last: tuple[float, float] | None = None  # (wall, done)
        self.done = 0.0

    def update(self, done: float) -> None:
        now = self.clock()
        if self._last is None:
            self._last, self.done = (now, float(done)), float(done)
            return
        wall, before = self._last
        dt = now - wall
        if dt <= 0.0:
            self.done = float(done)
            return
        inst = max(float(done) - before, 0.0) / dt
        if self.rate is None:
            self.rate = inst
        else:
            self.rate = self.alpha * inst + (1.0 - self.alpha) * self.rate
        self._last, self.done = (now, float(done)), float(done)

    def seconds_left(self) -> float | None:
        """Wall seconds to ``total`` at the smoothed rate; None before there is a rate."""
        if self.rate is None or self.rate <= 0.0:
            return None
        return max(self.total - self.done, 0.0) / self.rate

    def text(self) -> str:
        """"about 12 s left", "about 3.5 min left", "about 1.2 h left", "under 1 s left" ("" without
        a rate)."""
        left = self.seconds_left()
        if left is None:
            return ""
        if left < 1:
            return "under 1 s left"
        if left < 90:
            return f"about {left:.0f} s left"
        if left < 5400:
            return f"about {left / 60:.1f} min left"
        return f"about {left / 3600:.1f} h left"


class Progress:
    def __init__(self, total: float, what: str, unit: str, rank: int, every_fraction: float = 0.1):
        self.total, self.what, self.unit = total, what, unit
        self.enabled = rank == 0
        self.eta = Eta(total)
        self._bar = None
        self._next_line = every_fraction
        self._every = every_fraction
        if self.enabled:
            self.eta.update(0.0)
        if self.enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress as RichProgress, TextColumn

            self._bar = RichProgress(TextColumn(f"{what}"), BarColumn(),
                                     TextColumn("{task.completed:.4g}/{task.total:.4g} " + unit),
                                     TextColumn("{task.fields[info]}"),
                                     TextColumn("{task.fields[eta]}"), transient=True)
            self._task = self._bar.add_task(what, total=total, info="", eta="")
            self._bar.start()

    def update(self, done: float, info: str = "") -> None:
        if not self.enabled:
            return
        self.eta.update(done)
        if self._bar is not None:
            self._bar.update(self._task, completed=done, info=info, eta=self.eta.text())
            return
        fraction = done / self.total if self.total else 1.0
        if fraction + 1e-12 >= self._next_line:
            log.info("%s: %.4g/%.4g %s (%.0f %%) %s%s", self.what, done, self.total, self.unit,
                     100 * fraction, info, f", {self.eta.text()}" if self.eta.text() else "")
            while self._next_line <= fraction + 1e-12:
                self._next_line += self._every

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
