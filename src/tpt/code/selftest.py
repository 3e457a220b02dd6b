"""Self-test gate for the judge: known-correct programs must pass, known-wrong ones must fail the
expected way. Run it before trusting the judge on a new machine:

    python -m tpt.code.selftest                                 # built-in problem only
    python -m tpt.code.selftest --problems codecontests.jsonl   # also four real problems, from a jsonl of
                                                                # deepmind/code_contests rows that has them

Exit status 0 when every check holds. The programs live in selftest_solutions/ (see its README).
"""

import argparse
import json
import os
import sys
import time

from tpt.code.judge import extract_program, judge, problem_limits, problem_tests
from tpt.code.sandbox import CHOICES, Sandbox

SOLUTIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "selftest_solutions")

# a small problem that needs no data files: t pairs, print each sum
BUILTIN = {
    "builtin_pair_sums": {
        "tests": [
            ("1\n2 3\n", "5\n"),
            ("3\n1 1\n-5 5\n1000000000 1000000000\n", "2\n0\n2000000000\n"),
            ("2\n0 0\n7 -9\n", "0\n-2\n"),
            ("1\n123456789 987654321\n", "1111111110\n"),
        ],
        "time_limit_s": 1.0,
        "memory_limit_bytes": 256 << 20,
    }
}


def expected_kind(filename):
    """'correct_2.py' -> '' (must pass); 'wrong_answer.py' -> 'wrong_answer'."""
    stem = os.path.splitext(filename)[0]
    head, _, tail = stem.rpartition("_")
    if head and tail.isdigit():
        stem = head
    return "" if stem == "correct" else stem


def load_problems(problems_path):
    """{solutions dir name: {"tests", "time_limit_s", "memory_limit_bytes"}} for the built-in problem
    and for every CodeContests record (in problems_path) whose name starts with a solutions dir name."""
    problems = dict(BUILTIN)
    if problems_path:
        dirs = [d for d in os.listdir(SOLUTIONS_DIR) if os.path.isdir(os.path.join(SOLUTIONS_DIR, d))]
        with open(problems_path) as f:
            for line in f:
                rec = json.loads(line)
                for d in dirs:
                    if rec.get("name", "").startswith(d + "."):
                        tl, mem = problem_limits(rec)
                        problems[d] = {"tests": problem_tests(rec), "time_limit_s": tl, "memory_limit_bytes": mem}
    return problems


def run_selftest(problems_path=None, sandbox=None, time_factor=1.0, verbose=True):
    """Judge every program in selftest_solutions/ that has its problem loaded. Returns (ok, rows)."""
    own = sandbox is None
    if own:
        sandbox = Sandbox()
    problems = load_problems(problems_path)
    rows = []
    try:
        # no code: a completion without a fenced block
        p = problems["builtin_pair_sums"]
        v = judge(extract_program("I think the answer is print(5), no code block here."), p["tests"],
                  p["time_limit_s"], p["memory_limit_bytes"], sandbox=sandbox)
        rows.append(("builtin_pair_sums", "<no code block>", "no_code", v))
        for name in sorted(problems):
            pdir = os.path.join(SOLUTIONS_DIR, name)
            if not os.path.isdir(pdir):
                continue
            p = problems[name]
            for fn in sorted(os.listdir(pdir)):
                if not fn.endswith(".py"):
                    continue
                with open(os.path.join(pdir, fn)) as f:
                    completion = "Here is my solution.\n\n```python\n" + f.read() + "```\n"
                want = expected_kind(fn)
                v = judge(extract_program(completion), p["tests"], p["time_limit_s"], p["memory_limit_bytes"],
                          sandbox=sandbox, time_factor=time_factor, stop_at_first_failure=bool(want))
                rows.append((name, fn, want, v))
    finally:
        if own:
            sandbox.close()
    ok = all(_good(want, v) for _, _, want, v in rows)
    if verbose:
        print(report(rows), end="")
    return ok, rows


def _good(want, v):
    return v["passed"] if not want else (not v["passed"] and v["failure"] == want)


def report(rows):
    """One line per check of run_selftest's rows."""
    lines = []
    for name, fn, want, v in rows:
        got = "passed" if v["passed"] else v["failure"]
        lines.append(f"{'ok  ' if _good(want, v) else 'FAIL'} {name}/{fn}: want {want or 'passed'}, got {got} "
                     f"({v['tests_passed']}/{v['tests_total']} tests, {v['wall_s']:.2f}s) {v['detail'][:80]}\n")
    return "".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", help="CodeContests jsonl with the problems named in selftest_solutions/")
    ap.add_argument("--backend", default="auto", choices=CHOICES, help="sandbox backend (default: auto)")
    ap.add_argument("--mode", default="fork", choices=["fork", "exec"])
    ap.add_argument("--allow-unsafe", action="store_true", help="run without isolation if no backend works")
    ap.add_argument("--time-factor", type=float, default=1.0)
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    with Sandbox(backend=args.backend, allow_unsafe=args.allow_unsafe, mode=args.mode) as sb:
        print(f"sandbox: {sb.name}")
        ok, rows = run_selftest(args.problems, sandbox=sb, time_factor=args.time_factor)
    print(f"{'PASS' if ok else 'FAIL'}: {len(rows)} checks in {time.monotonic() - t0:.1f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
