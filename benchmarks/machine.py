"""What the benchmarks measure the whole machine with."""

from __future__ import annotations

import os


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine (from /proc/stat): the host *and* its sandboxes, whose processes
    are not our children (bubblewrap, the fork server) and so escape getrusage."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")
