"""Helpers for tests that interrupt a real `python -m simulate` the way a terminal does."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def interruptible() -> None:
    """Give the child the default Ctrl-C: a shell that runs the tests in the background
    (`cmd &`) hands its children SIGINT ignored, and Python then never raises
    KeyboardInterrupt, so the run would not notice the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def group_cpu_seconds(pgid: int) -> float:
    """CPU time used so far by the processes of a process group (the run and its workers)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:      # fields after the name: state, ppid, pgrp, ...
            ticks += int(fields[11]) + int(fields[12])     # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")
