"""tpt.scheduling: Snakemake's scheduler keeps one pending wake-up of its loop instead of one more per finished
job."""
import threading
import time
from types import SimpleNamespace

import pytest
from snakemake.scheduling.job_scheduler import JobScheduler

from tpt import scheduling


@pytest.fixture
def original():
    method = JobScheduler._schedule_reevalutation
    yield method
    JobScheduler._schedule_reevalutation = method


def _wakeups(schedule, calls, expected, delay=0.3):
    """Ask for a wake-up `delay` s on `calls` times, as `calls` passes of the loop do; check that `expected`
    wake-ups come (each waited for up to 10 s: timers may be late on a busy machine) and no more within 2 s."""
    loop = SimpleNamespace(_open_jobs=threading.Semaphore(0))
    for _ in range(calls):
        schedule(loop, delay)
    assert all(loop._open_jobs.acquire(timeout=10) for _ in range(expected))
    assert not loop._open_jobs.acquire(timeout=2)
    return loop


def test_snakemakes_own_scheduler_wakes_its_loop_once_per_request(original):
    """The upstream behaviour this fixes: 5 passes of the loop (e.g. 5 finished jobs) -> 5 wake-ups, each of which
    asks for the next one."""
    _wakeups(original, 5, expected=5)


def test_one_pending_wakeup_serves_every_pass_that_asks_before_it(original):
    assert scheduling.coalesce_reevaluations()
    assert not scheduling.coalesce_reevaluations()  # once
    patched = JobScheduler._schedule_reevalutation
    loop = _wakeups(patched, 5, expected=1)
    # once it has come, the next pass gets its own wake-up again (the rate limiter's timespan later)
    patched(loop, 0.1)
    assert loop._open_jobs.acquire(timeout=10)
    # a sooner wake-up than the pending one is not swallowed by it
    patched(loop, 30)
    start = time.monotonic()
    patched(loop, 0.1)
    assert loop._open_jobs.acquire(timeout=10) and time.monotonic() - start < 10
    # the timers do not keep Snakemake's process alive at exit
    assert all(t.daemon for t in threading.enumerate() if isinstance(t, threading.Timer))
