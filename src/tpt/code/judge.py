"""Judge model completions on CodeContests-style problems (stdin -> stdout).

    from tpt.code.sandbox import Sandbox
    from tpt.code.judge import extract_program, judge, judge_many

    with Sandbox() as sb:                      # refuses to run without isolation (see sandbox.py)
        v = judge(extract_program(completion), tests, 2.0, 256 << 20, sandbox=sb)
        v["passed"], v["failure"]              # True, ""  or  False, "wrong_answer" / ...

A verdict is a dict:
    passed        bool, all tests passed
    tests_passed  number of tests passed (with stop_at_first_failure: among the tests that ran)
    tests_total   number of tests of the problem
    failure       "" if passed, else the kind of the first failing test (lowest index):
                  "wrong_answer", "time_limit", "memory_limit", "runtime_error", or "no_code"
                  (no fenced code block in the completion): tpt.artifacts.FAILURE_KINDS
    failed_test   index of that test (None if passed or no_code)
    detail        a short human-readable hint about the failure ("" if passed)
    wall_s        wall-clock seconds spent judging this sample
    backend       the sandbox that ran it, e.g. "unshare+fork" (see Sandbox.name)

Expected outputs never enter the sandbox: the comparison happens here, in the host process.
"""

import os
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor, FIRST_COMPLETED, wait

from tpt.code.compare import compare
from tpt.code.sandbox import Sandbox

DEFAULT_TIME_LIMIT_S = 2.0  # when a problem has none
DEFAULT_MEMORY_LIMIT = 256 << 20
MIN_OUTPUT_LIMIT = 1 << 20  # stdout cap per test: max(this, 4 x expected output size)

# the first fenced block: an opening ``` line (any info string, e.g. "python"), up to a closing ``` line
_FENCE = re.compile(r"^[ \t]*```[^\n`]*\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE)


def extract_program(completion):
    """The program in a completion: the body of its first fenced code block, or None if there is no
    (closed, non-empty) block."""
    if not completion:
        return None
    m = _FENCE.search(completion)
    if m is None or not m.group(1).strip():
        return None
    return m.group(1)


def problem_tests(problem, splits=("public_tests", "private_tests", "generated_tests")):
    """[(input, expected_output), ...] from a CodeContests record (splits concatenated in order)."""
    tests = []
    for split in splits:
        t = problem.get(split) or {}
        tests.extend(zip(t.get("input", []), t.get("output", [])))
    return tests


def problem_limits(problem):
    """(time_limit_s, memory_limit_bytes) of a CodeContests record, with defaults when missing."""
    tl = problem.get("time_limit") or {}
    if isinstance(tl, dict):
        tl = (tl.get("seconds") or 0) + (tl.get("nanos") or 0) / 1e9
    mem = problem.get("memory_limit_bytes") or 0
    return (float(tl) if tl else DEFAULT_TIME_LIMIT_S), (int(mem) if mem else DEFAULT_MEMORY_LIMIT)


def classify(res, expected, time_limit_s):
    """Failure kind of one run ("" if it passed) and a short detail string.

    Each kind rests on what the program did, not on how busy the machine was: time_limit when its CPU
    time passed the limit (the sandbox killed it, or RLIMIT_CPU did, or it ended just after) or when
    it outlived the wall-clock backstop (a sleeper); memory_limit when it failed to allocate
    (MemoryError: RLIMIT_AS). Wall time alone never decides, as it grows with the load."""
    err = res["stderr"][-1000:]
    if res.get("killed_for") == "wall":
        return "time_limit", (f"still running after {res['wall_s']:.2f}s of wall clock (the backstop; CPU "
                              f"{res['cpu_s']:.2f}s, limit {time_limit_s:.2f}s)")
    if res["timed_out"] or res["cpu_s"] > time_limit_s or res["signal"] == signal.SIGXCPU:
        return "time_limit", f"CPU time {res['cpu_s']:.2f}s > limit {time_limit_s:.2f}s"
    if res["stdout_truncated"]:
        return "wrong_answer", "output limit exceeded"
    if res["exit_code"] != 0:
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        how = f"signal {res['signal']}" if res["signal"] is not None else f"exit code {res['exit_code']}"
        if b"MemoryError" in err:
            return "memory_limit", f"{how}: {last[0][:200]}"
        return "runtime_error", f"{how}: {last[0][:200]}"
    if not compare(expected, res["stdout"]):
        got = res["stdout"][:60].decode("utf-8", "replace")
        exp = expected[:60] if isinstance(expected, str) else expected[:60].decode("utf-8", "replace")
        return "wrong_answer", f"expected {exp!r}, got {got!r}"
    return "", ""


def _run_test(sandbox, program, test, time_limit_s, memory_limit_bytes, output_limit_bytes):
    inp, expected = test
    exp_len = len(expected.encode()) if isinstance(expected, str) else len(expected)
    out_limit = output_limit_bytes or max(MIN_OUTPUT_LIMIT, 4 * exp_len)
    res = sandbox.run(program, inp, time_limit_s=time_limit_s, memory_limit_bytes=memory_limit_bytes,
                      output_limit_bytes=out_limit)
    return classify(res, expected, time_limit_s)


def judge(program, tests, time_limit_s, memory_limit_bytes, *, sandbox, stop_at_first_failure=False,
          time_factor=1.0, workers=1, output_limit_bytes=None):
    """Run `program` (Python source, or None for "no code") on every (input, expected_output) test.

    Each test gets time_limit_s * time_factor seconds of CPU time (the wall clock is only a generous
    backstop, see sandbox.wall_limit) and memory_limit_bytes of address space. stop_at_first_failure: skip the remaining tests once one fails (pruning only
    needs pass/fail). workers: how many tests of this program run at once.
    """
    t0 = time.monotonic()
    tests = list(tests)
    if not tests:
        raise ValueError("judge() needs at least one test: a program cannot be verified without tests")
    v = {"passed": False, "tests_passed": 0, "tests_total": len(tests), "failure": "", "failed_test": None,
         "detail": "", "wall_s": 0.0, "backend": sandbox.name}
    if program is None or not program.strip():
        v.update(failure="no_code", detail="no fenced code block in the completion")
        v["wall_s"] = time.monotonic() - t0
        return v
    limit = float(time_limit_s) * float(time_factor)
    results = {}  # test index -> (kind, detail)
    args = (sandbox, program)
    if workers <= 1:
        for i, test in enumerate(tests):
            results[i] = _run_test(*args, test, limit, memory_limit_bytes, output_limit_bytes)
            if results[i][0] and stop_at_first_failure:
                break
    else:
        with ThreadPoolExecutor(workers) as pool:
            futures = {pool.submit(_run_test, *args, t, limit, memory_limit_bytes, output_limit_bytes): i
                       for i, t in enumerate(tests)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    results[futures[f]] = f.result()
                failed = [i for i, r in results.items() if r[0]]
                if failed and stop_at_first_failure:
                    # tests after the first known failure are not needed; earlier ones still are
                    first = min(failed)
                    for f in list(pending):
                        if futures[f] > first and f.cancel():
                            pending.discard(f)
    failed = sorted(i for i, r in results.items() if r[0])
    v["tests_passed"] = sum(1 for r in results.values() if not r[0])
    if failed:
        i = failed[0]
        v.update(failure=results[i][0], failed_test=i, detail=results[i][1])
    else:
        v["passed"] = v["tests_passed"] == len(tests)
    v["wall_s"] = time.monotonic() - t0
    return v


def _job_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def judge_many(rows, *, sandbox=None, workers=None, stop_at_first_failure=False, time_factor=1.0,
               backend="auto", allow_unsafe=False, progress=None):
    """Judge many samples, `workers` at a time (default: the cores this job may use).

    rows: dicts with "program" (source or None) or "completion" (the program is extracted from it),
          "tests" ([(input, output), ...]), "time_limit_s" and "memory_limit_bytes".
    Without a `sandbox`, one is made (backend / allow_unsafe as in Sandbox) and closed at the end.
    progress: a tpt.progress.Progress told of each judged sample (the job's log shows how far it is).
    Returns one verdict per row, in order.
    """
    workers = workers or _job_cores()
    own = sandbox is None
    if own:
        sandbox = Sandbox(backend=backend, allow_unsafe=allow_unsafe)

    def one(row):
        program = row["program"] if "program" in row else extract_program(row.get("completion"))
        verdict = judge(program, row["tests"], row["time_limit_s"], row["memory_limit_bytes"], sandbox=sandbox,
                        stop_at_first_failure=stop_at_first_failure, time_factor=time_factor)
        if progress:
            progress.update(1)
        return verdict
    try:
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(one, rows))
    finally:
        if own:
            sandbox.close()
