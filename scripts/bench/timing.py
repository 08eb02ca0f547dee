"""Timing for the reference side of the bench scripts: medians of repeated calls, measured the
same way in every script so that their figures compare."""

import statistics
import time


def timed(f, repeats, warmup=False):
    """Median wall seconds of `repeats` calls of f, after one unmeasured call when warmup
    (imports, caches, thread pools), and the last call's result."""
    if warmup:
        f()
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def median_time(f, repeats, warmup=False):
    """timed's median, per fit when f does several (its `fits` attribute)."""
    return timed(f, repeats, warmup)[0] / getattr(f, "fits", 1)
