"""Judge throughput: test-runs per second on short Python programs.

    PYTHONPATH=src python benchmarks/judge_throughput.py [--repeat 4] [--workers 2]

Runners, all on the same (program, test) pairs with `workers` runs at a time:
  plain[...]    subprocess.run([python, prog.py]) with no isolation at all (the baseline), once with
                `python3` as found on PATH and once with the interpreter the sandbox uses
  unshare+exec  isolated, a fresh interpreter per run (the reference runner)
  unshare+fork  isolated, fork server (a warm interpreter forks one child per run)
Checks that every runner gives the same verdict for every run. Prints figures; asserts nothing on speed.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
from tpt.code.judge import classify  # noqa: E402
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


def jobs(repeat):
    return [(name, i, prog, inp, out) for _ in range(repeat)
            for name, (prog, tests) in PROGRAMS.items() for i, (inp, out) in enumerate(tests)]


def plain_runner(python, tmpdir):
    paths = {}
    for name, (prog, _) in PROGRAMS.items():
        paths[name] = os.path.join(tmpdir, name + ".py")
        with open(paths[name], "w") as f:
            f.write(prog)

    def run(job):
        name, _, _, inp, out = job
        t0 = time.monotonic()
        try:
            p = subprocess.run([python, paths[name]], input=inp.encode(), capture_output=True, timeout=TIME_LIMIT)
            res = {"timed_out": False, "exit_code": p.returncode if p.returncode >= 0 else None,
                   "signal": -p.returncode if p.returncode < 0 else None, "stdout": p.stdout, "stderr": p.stderr,
                   "stdout_truncated": False}
        except subprocess.TimeoutExpired:
            res = {"timed_out": True, "exit_code": None, "signal": 9, "stdout": b"", "stderr": b"",
                   "stdout_truncated": False}
        res.update(wall_s=time.monotonic() - t0, cpu_s=0.0)
        return classify(res, out, TIME_LIMIT)[0]
    return run


def sandbox_runner(sb):
    def run(job):
        _, _, prog, inp, out = job
        res = sb.run(prog, inp, time_limit_s=TIME_LIMIT, memory_limit_bytes=MEMORY,
                     output_limit_bytes=max(MB, 4 * len(out)))
        return classify(res, out, TIME_LIMIT)[0]
    return run


def measure(run, work, workers):
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, work[:workers * 2]))  # warm-up (servers start, caches fill)
        t0 = time.monotonic()
        kinds = list(pool.map(run, work))
        dt = time.monotonic() - t0
    return kinds, len(work) / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=4, help="how many times each (program, test) runs")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    work = jobs(args.repeat)
    path_python = shutil.which("python3") or sys.executable
    print(f"{len(work)} runs per runner ({len(PROGRAMS)} programs x 3 tests x {args.repeat}), "
          f"{args.workers} workers, {os.cpu_count()} cpus, load avg {os.getloadavg()[0]:.2f} at start")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, python in [(f"plain[{path_python}]", path_python), (f"plain[{SANDBOX_PYTHON}]", SANDBOX_PYTHON)]:
            results[label] = measure(plain_runner(python, tmp), work, args.workers)
    for mode in ("exec", "fork"):
        with Sandbox(mode=mode) as sb:
            results[sb.name] = measure(sandbox_runner(sb), work, args.workers)
    ref_kinds = results[f"plain[{SANDBOX_PYTHON}]"][0]
    base = {k: v[1] for k, v in results.items() if k.startswith("plain")}
    print(f"{'runner':<50} {'runs/s':>8}  " + "  ".join(f"x vs {k}" for k in base))
    for label, (kinds, rate) in results.items():
        same = "verdicts identical" if kinds == ref_kinds else "VERDICTS DIFFER"
        print(f"{label:<50} {rate:8.1f}  " + "  ".join(f"{rate / b:>{len(k) + 5}.1f}" for k, b in base.items())
              + f"  {same}")
    counts = {k: ref_kinds.count(k) for k in sorted(set(ref_kinds))}
    print(f"verdict mix: {counts}")
    if any(kinds != ref_kinds for kinds, _ in results.values()):
        print("ERROR: runners disagree on some verdicts")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
