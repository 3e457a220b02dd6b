"""A fix for Snakemake's job scheduler, applied by the Snakefile in Snakemake's own process.

Snakemake (9.27) re-runs its scheduling loop after every job-rate-limiter timespan (--max-jobs-per-timespan,
1 s by default): each pass of the loop starts a `threading.Timer` that wakes the loop again one timespan later.
The loop also runs once per finished job, and each such extra pass starts one more timer, which starts the next:
after K finished jobs, K timer chains wake the loop K times a second, and every pass recomputes the params and
resources of every ready job and stats all their inputs. In a run of 55 jobs that is nothing; in an experiment of
several hundred jobs it took a third of a core from the jobs on a 2-core machine, and more as the run went on
(docs/experiments-sharing.md; the loop waking too often is discussed upstream in snakemake/snakemake#3744).

`coalesce_reevaluations` keeps one pending wake-up at a time: a pass that asks for a wake-up while an earlier one
will come as soon or sooner asks for nothing. The rate limiter still gets its wake-up a timespan after the limit
was reached. The timers are daemon threads, so Snakemake's exit does not wait for one.
"""
import threading
import time

_guard = threading.Lock()


def coalesce_reevaluations():
    """Patch JobScheduler._schedule_reevalutation (Snakemake's spelling) to keep one pending wake-up; returns
    whether it patched (False if this Snakemake has no such method, or it is patched already)."""
    try:
        from snakemake.scheduling.job_scheduler import JobScheduler
    except ImportError:
        return False
    original = getattr(JobScheduler, "_schedule_reevalutation", None)
    if original is None or getattr(original, "coalesced", False):
        return False

    def schedule_reevaluation(self, delay):
        now = time.monotonic()
        with _guard:
            pending = getattr(self, "_tpt_wakeup_due", None)
            if pending is not None and now < pending <= now + delay:
                return  # a wake-up is still to come, as soon or sooner: it serves this one too
            self._tpt_wakeup_due = now + delay
        timer = threading.Timer(delay, self._open_jobs.release)
        timer.daemon = True
        timer.start()

    schedule_reevaluation.coalesced = True
    JobScheduler._schedule_reevalutation = schedule_reevaluation
    return True
