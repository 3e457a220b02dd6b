"""Judge throughput on short Python programs: the sandbox against plain subprocess.run, same interpreter.

    PYTHONPATH=src python benchmarks/judge_throughput.py [--rounds 5] [--repeat 4] [--workers 2]

Runners, all with the same interpreter (the sandbox's, /usr/bin/python3 unless --python) and `workers`
tests or samples at a time:
  plain         subprocess.run([python, prog.py]) per test, with no isolation at all (the baseline)
  <backend>+exec  isolated, a fresh interpreter per test (the reference runner)
  <backend>+fork  isolated, fork server (a warm interpreter forks one child per test)
Two measures:
  test runs/s        every test of every sample, the same work for every runner
  samples judged/s   pass/fail of whole samples (a program and its tests): the sandbox with
                     stop_at_first_failure (what pruning needs); plain both running every test (a judge
                     without early stop) and stopping at the first failure too
Each round runs every runner once, one after the other (other jobs may share the cores: rounds
interleave the runners, the figures are medians over rounds, with the range). CPU ms per test run
(all the runner's processes: host, servers, programs) is less sensitive to other jobs than runs/s.
Checks that every runner gives the same verdicts. Prints figures; asserts nothing on speed.
(The sandbox is imported from PYTHONPATH, else from ../src: point PYTHONPATH at another checkout's src
to measure that one.)
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

try:
    import tpt.code.sandbox  # noqa: F401  (PYTHONPATH)
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
from tpt.code.judge import classify, judge  # noqa: E402
from tpt.code.sandbox import Sandbox, SANDBOX_PYTHON  # noqa: E402

MB = 1 << 20
TIME_LIMIT = 2.0
MEMORY = 256 * MB

# short programs, typical of easy CodeContests solutions; (input, expected output) tests
PROGRAMS = {
    "a_plus_b": ("a, b = map(int, input().split())\nprint(a + b)\n",
                 [("1 2\n", "3\n"), ("-5 5\n", "0\n"), ("1000000000 1000000000\n", "2000000000\n")]),
    "sort": ("import sys\nd = sys.stdin.read().split()\nprint(' '.join(sorted(d[1:], key=int)))\n",
             [("5\n5 3 1 4 2\n", "1 2 3 4 5\n"), ("3\n-1 -3 -2\n", "-3 -2 -1\n"), ("1\n7\n", "7\n")]),
    "counter": ("from collections import Counter\ns = input().strip()\nc = Counter(s)\nprint(max(c.values()))\n",
                [("aab\n", "2\n"), ("abc\n", "1\n"), ("zzzzz\n", "5\n")]),
    "loop": ("n = int(input())\nt = 0\nfor i in range(n):\n    t += i * i % 7\nprint(t)\n",
             [("1000\n", f"{sum(i * i % 7 for i in range(1000))}\n"), ("10\n", f"{sum(i * i % 7 for i in range(10))}\n"),
              ("20000\n", f"{sum(i * i % 7 for i in range(20000))}\n")]),
    "math_wrong": ("import math\nn = int(input())\nprint(math.isqrt(n) + 1)\n",  # wrong on purpose
                   [("16\n", "4\n"), ("17\n", "4\n"), ("1\n", "1\n")]),
    "crash": ("x = int(input())\nprint(10 // (x - x))\n", [("3\n", "1\n"), ("4\n", "1\n"), ("5\n", "1\n")]),
    "strings": ("t = int(input())\nfor _ in range(t):\n    s = input()\n    print('YES' if s == s[::-1] else 'NO')\n",
                [("3\naba\nab\nx\n", "YES\nNO\nYES\n"), ("1\nabba\n", "YES\n"), ("2\nabc\ncc\n", "NO\nYES\n")]),
    "heap": ("import heapq\na = list(map(int, input().split()))\nheapq.heapify(a)\nprint(heapq.heappop(a))\n",
             [("3 1 2\n", "1\n"), ("5\n", "5\n"), ("9 8 7 6\n", "6\n")]),
}


def samples(repeat, first_id):
    """(name, id) of each sample: its program is PROGRAMS[name]'s with the id in a comment. Every sample is
    a distinct program, as the completions of a model are (the fork server caches a program's compiled code
    for its next tests: repeating one program would overstate that)."""
    ids = iter(range(first_id, first_id + repeat * len(PROGRAMS)))
    return [(name, next(ids)) for _ in range(repeat) for name in PROGRAMS]


def source(name, sample_id):
    return PROGRAMS[name][0] + f"# sample {sample_id}\n"


def tests_of(samps):
    return [(name, k, i) for name, k in samps for i in range(len(PROGRAMS[name][1]))]


class Plain:
    """subprocess.run([python, prog.py]) per test, no isolation."""

    def __init__(self, python, tmpdir):
        self.name, self.python, self.tmpdir = "plain", python, tmpdir

    def prepare(self, samps):
        for name, k in samps:
            with open(self.path(name, k), "w") as f:
                f.write(source(name, k))

    def path(self, name, k):
        return os.path.join(self.tmpdir, f"{name}_{k}.py")

    def test(self, name, k, i):
        inp, out = PROGRAMS[name][1][i]
        t0 = time.monotonic()
        try:
            p = subprocess.run([self.python, self.path(name, k)], input=inp.encode(), capture_output=True,
                               timeout=TIME_LIMIT)
            res = {"timed_out": False, "exit_code": p.returncode if p.returncode >= 0 else None,
                   "signal": -p.returncode if p.returncode < 0 else None, "stdout": p.stdout, "stderr": p.stderr,
                   "stdout_truncated": False}
        except subprocess.TimeoutExpired:
            res = {"timed_out": True, "exit_code": None, "signal": 9, "stdout": b"", "stderr": b"",
                   "stdout_truncated": False}
        res.update(wall_s=time.monotonic() - t0, cpu_s=0.0)
        return classify(res, out, TIME_LIMIT)[0]

    def sample(self, name, k, stop_at_first_failure):
        """The judge's verdict on pass/fail and the first failure, run here test after test."""
        kinds = []
        for i in range(len(PROGRAMS[name][1])):
            kinds.append(self.test(name, k, i))
            if kinds[-1] and stop_at_first_failure:
                break
        return next((k for k in kinds if k), "")

    def cpu(self):
        """CPU seconds so far of this process (all threads) and of the programs it ran."""
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + ru.ru_utime + ru.ru_stime


class Sandboxed:
    """The sandbox, one test at a time per worker (judge() for whole samples)."""

    def __init__(self, sb):
        self.sb, self.name, self.program_cpu = sb, sb.name, []

    def prepare(self, samps):
        pass

    def run(self, *args, **kwargs):  # (judge() calls this: the sandbox's run, counting the programs' CPU)
        res = self.sb.run(*args, **kwargs)
        self.program_cpu.append(res["cpu_s"])
        return res

    def test(self, name, k, i):
        inp, out = PROGRAMS[name][1][i]
        res = self.run(source(name, k), inp, time_limit_s=TIME_LIMIT, memory_limit_bytes=MEMORY,
                       output_limit_bytes=max(MB, 4 * len(out)))
        return classify(res, out, TIME_LIMIT)[0]

    def sample(self, name, k, stop_at_first_failure):
        return judge(source(name, k), PROGRAMS[name][1], TIME_LIMIT, MEMORY, sandbox=self,
                     stop_at_first_failure=stop_at_first_failure)["failure"]

    def cpu(self):
        """CPU seconds so far of this process (all threads), of the servers (both processes of each: the
        one started and, for the isolating backends, its child inside the namespaces; from /proc/PID/
        schedstat, in ns) and of the programs they ran (as each run reports it)."""
        total = time.process_time() + sum(self.program_cpu)
        for srv in self.sb._all:
            pids = [srv.proc.pid]
            try:
                with open(f"/proc/{srv.proc.pid}/task/{srv.proc.pid}/children") as f:
                    pids += [int(x) for x in f.read().split()]
                for pid in pids:
                    with open(f"/proc/{pid}/schedstat") as f:
                        total += int(f.read().split()[0]) / 1e9
            except OSError:  # (no such file on this kernel: servers not counted)
                pass
        return total


def measure(fn, work, workers, cpu):
    """The results, runs per second and CPU seconds per run of fn over work, `workers` at a time."""
    with ThreadPoolExecutor(workers) as pool:
        c0, t0 = cpu(), time.monotonic()
        results = list(pool.map(lambda w: fn(*w), work))
        dt, c1 = time.monotonic() - t0, cpu()
    return results, len(work) / dt, (c1 - c0) / len(work)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5, help="rounds; each runs every runner once (medians over rounds)")
    ap.add_argument("--repeat", type=int, default=4, help="samples per program per round (each a distinct program)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--python", default=SANDBOX_PYTHON, help="interpreter for every runner")
    args = ap.parse_args()
    n_samples = args.repeat * len(PROGRAMS)
    print(f"per round: {3 * n_samples} test runs and {n_samples} samples per runner ({len(PROGRAMS)} programs x "
          f"3 tests x {args.repeat}), {args.workers} workers, {os.cpu_count()} cpus, {args.rounds} rounds, "
          f"{args.python}, load avg {os.getloadavg()[0]:.2f} at start")
    rates, cpus, verdicts = {}, {}, {}

    def record(key, res, rate, cpu):
        rates.setdefault(key, []).append(rate)
        cpus.setdefault(key, []).append(cpu)
        verdicts.setdefault(key, res)
        if res != verdicts[key]:
            verdicts[key] = None  # (not the same from round to round)

    with tempfile.TemporaryDirectory() as tmp, Sandbox(mode="exec", python=args.python) as sb_exec, \
            Sandbox(mode="fork", python=args.python) as sb_fork:
        runners = [Plain(args.python, tmp), Sandboxed(sb_exec), Sandboxed(sb_fork)]
        for r in runners:  # warm-up: servers start, caches fill
            r.prepare(samples(1, -len(PROGRAMS)))
            measure(r.test, tests_of(samples(1, -len(PROGRAMS))), args.workers, r.cpu)
        next_id = 0
        for _ in range(args.rounds):
            samps = samples(args.repeat, next_id)  # new programs for each measure (see samples())
            for r in runners:
                r.prepare(samps)
                record(("tests", r.name), *measure(r.test, tests_of(samps), args.workers, r.cpu))
            for r in runners:
                for stop in ([False, True] if isinstance(r, Plain) else [True]):
                    samps = samples(args.repeat, next_id + n_samples)
                    r.prepare(samps)
                    key = ("samples", f"{r.name}, {'stop at first failure' if stop else 'every test'}")
                    record(key, *measure(lambda n, k, s=stop, r=r: r.sample(n, k, s), samps, args.workers, r.cpu))
            next_id += 2 * n_samples

    ok = True
    for measure_name, unit, base_key in [("tests", "test run", "plain"), ("samples", "sample", "plain, every test")]:
        keys = [k for k in rates if k[0] == measure_name]
        base = statistics.median(rates[(measure_name, base_key)])
        print(f"{unit}s/s, median (min-max) over rounds, x vs {base_key}; ms of CPU per {unit}:")
        for key in keys:
            rs = rates[key]
            print(f"  {key[1]:<46} {statistics.median(rs):8.1f} ({min(rs):.0f}-{max(rs):.0f}) "
                  f"{statistics.median(rs) / base:6.1f}x {statistics.median(cpus[key]) * 1e3:8.2f} ms")
        ref = verdicts[keys[0]]
        same = all(verdicts[k] == ref and ref is not None for k in keys)
        mix = {k: ref.count(k) for k in sorted(set(ref))} if ref else {}
        print(f"  verdicts {'identical' if same else 'DIFFER'} across runners: {mix}")
        ok &= same
    if not ok:
        print("ERROR: runners disagree on some verdicts")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
