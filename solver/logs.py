"""Logging: rank 0 logs INFO (or the chosen level) to the terminal and to run.log."""

from __future__ import annotations

import logging
from pathlib import Path

LOG = logging.getLogger("heterofem")


def setup_logging(rank: int, level: str = "INFO", logfile: Path | None = None) -> None:
    LOG.handlers.clear()
    LOG.propagate = False
    if rank != 0:
        LOG.setLevel(logging.ERROR)
        LOG.addHandler(logging.NullHandler())
        return
    LOG.setLevel(level.upper())
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("heterofem: %(message)s"))
    LOG.addHandler(console)
    if logfile is not None:
        add_logfile(logfile)


def add_logfile(path: Path, mode: str = "w") -> logging.Handler:
    """Log INFO and above to ``path`` (rank 0; ``mode="a"`` appends, for a restart); remove the
    returned handler when done."""
    fh = logging.FileHandler(path, mode=mode)
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    fh.setLevel(logging.DEBUG if LOG.level == logging.DEBUG else logging.INFO)
    if LOG.level == logging.NOTSET or LOG.level > logging.INFO:
        LOG.setLevel(logging.INFO)  # the file always gets INFO, whatever the console shows
    LOG.addHandler(fh)
    return fh
