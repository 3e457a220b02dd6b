"""The judge: program extraction, verdicts and failure kinds, fork server == plain runner, self-test."""

import json
import os
import subprocess
import sys
import threading

import pytest

from tpt.code import sandbox as S
from tpt.code.judge import extract_program, judge, judge_many, problem_limits, problem_tests
from tpt.code.selftest import expected_kind, run_selftest

HAVE_SANDBOX = bool(S.available_backends())
needs_sandbox = pytest.mark.skipif(not HAVE_SANDBOX, reason=f"no isolating sandbox backend: {S._probe()}")
MB = 1 << 20
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(REPO, "..", "shared", "data", "codecontests", "sample.jsonl")

DOUBLE = [("2\n", "4\n"), ("5\n", "10\n"), ("-3\n", "-6\n"), ("100000000000\n", "200000000000\n")]


@pytest.fixture(scope="module")
def fork_sb():
    box = S.Sandbox(mode="fork")
    yield box
    box.close()


@pytest.fixture(scope="module")
def exec_sb():
    box = S.Sandbox(mode="exec")
    yield box
    box.close()


# ----------------------------------------------------------------------------- extraction (no sandbox)

def test_extract_first_python_block():
    c = "Idea: double it.\n```python\nprint(2 * int(input()))\n```\nand also\n```python\nprint(0)\n```"
    assert extract_program(c) == "print(2 * int(input()))\n"


def test_extract_plain_fence_and_other_info_strings():
    assert extract_program("```\nx = 1\nprint(x)\n```") == "x = 1\nprint(x)\n"
    assert extract_program("text\n```py3 title\nprint(1)\n```\n") == "print(1)\n"
    assert extract_program("  ```python\n  print(1)\n  ```") == "  print(1)\n"  # indented fences


@pytest.mark.parametrize("completion", [
    None, "", "print(1)", "no code here", "```python\nprint(1)\n",  # unclosed block
    "```python\n\n   \n```", "inline ```print(1)``` only",
])
def test_extract_none(completion):
    assert extract_program(completion) is None


def test_no_code_verdict_needs_no_sandbox():
    class Dummy:
        name = "dummy"
    v = judge(extract_program("I refuse to write code."), DOUBLE, 1.0, 256 * MB, sandbox=Dummy())
    assert v["failure"] == "no_code" and not v["passed"] and v["tests_passed"] == 0 and v["tests_total"] == 4
    assert v["backend"] == "dummy"


def test_problem_helpers():
    rec = {"public_tests": {"input": ["1\n"], "output": ["2\n"]}, "private_tests": {"input": ["3\n"], "output": ["6\n"]},
           "generated_tests": {"input": [], "output": []}, "time_limit": {"seconds": 1, "nanos": 500000000},
           "memory_limit_bytes": 0}
    assert problem_tests(rec) == [("1\n", "2\n"), ("3\n", "6\n")]
    assert problem_limits(rec) == (1.5, 256 << 20)
    assert expected_kind("correct_2.py") == "" and expected_kind("time_limit.py") == "time_limit"


# ----------------------------------------------------------------------------- verdicts

KINDS = {
    "": "print(2 * int(input()))",
    "wrong_answer": "print(2 * int(input()) + 1)",
    "time_limit": "n = int(input())\nwhile True:\n    n += 1",
    "memory_limit": "x = [0] * (10 ** 9)",
    "runtime_error": "print(2 * int(input()))\nraise SystemExit(3)",
}


@needs_sandbox
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_failure_kind(fork_sb, kind):
    v = judge(KINDS[kind], DOUBLE, 0.5, 256 * MB, sandbox=fork_sb, stop_at_first_failure=True)
    assert v["failure"] == kind and v["passed"] == (kind == "")
    assert v["tests_total"] == 4 and v["backend"] == "unshare+fork"
    assert set(v) >= {"passed", "tests_passed", "tests_total", "failure", "wall_s", "backend"}
    if kind:
        assert v["failed_test"] == 0 and v["tests_passed"] == 0 and v["detail"]
    else:
        assert v["tests_passed"] == 4 and v["failed_test"] is None and v["detail"] == ""


@needs_sandbox
def test_partial_pass_and_first_failure(fork_sb):
    prog = "n = int(input())\nprint(2 * n if n < 10 else 0)"  # fails only the last test
    v = judge(prog, DOUBLE, 1.0, 256 * MB, sandbox=fork_sb)
    assert (v["passed"], v["tests_passed"], v["failure"], v["failed_test"]) == (False, 3, "wrong_answer", 3)
    # the first failing test decides the kind, even when later ones fail differently
    prog = "n = int(input())\nif n == 5: print(0)\nelif n == -3: raise ValueError\nelse: print(2 * n)"
    v = judge(prog, DOUBLE, 1.0, 256 * MB, sandbox=fork_sb)
    assert (v["tests_passed"], v["failure"], v["failed_test"]) == (2, "wrong_answer", 1)


class Recording:
    """A sandbox that records the stdin of every run and how many ran at once (no timing involved)."""

    def __init__(self, box):
        self.box, self.name, self.inputs, self.running, self.most = box, box.name, [], 0, 0
        self.lock = threading.Lock()

    def run(self, program, stdin, **kw):
        with self.lock:
            self.inputs.append(stdin)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return self.box.run(program, stdin, **kw)
        finally:
            with self.lock:
                self.running -= 1


@needs_sandbox
def test_stop_at_first_failure_skips_the_rest(fork_sb):
    prog = "n = int(input())\nprint(0)"
    rec = Recording(fork_sb)
    v = judge(prog, DOUBLE, 1.0, 256 * MB, sandbox=rec, stop_at_first_failure=True)
    assert v["failure"] == "wrong_answer" and v["failed_test"] == 0 and v["tests_passed"] == 0
    assert rec.inputs == ["2\n"]  # the other tests never ran
    rec = Recording(fork_sb)
    v = judge(prog, DOUBLE, 1.0, 256 * MB, sandbox=rec, stop_at_first_failure=False)
    assert v["failed_test"] == 0 and rec.inputs == [t[0] for t in DOUBLE]


# spins until its own CPU clock reaches 0.3 s (CPU time, unlike wall time, does not grow with the load)
CPU_0_3 = "import time\nwhile time.process_time() < 0.3:\n    pass\nprint(2 * int(input()))"


@needs_sandbox
def test_time_factor_and_parallel_tests(fork_sb):
    assert judge(CPU_0_3, DOUBLE, 0.15, 256 * MB, sandbox=fork_sb, stop_at_first_failure=True)["failure"] == "time_limit"
    v1 = judge(CPU_0_3, DOUBLE, 0.15, 256 * MB, sandbox=fork_sb, time_factor=6.0)
    rec = Recording(fork_sb)
    sleepy = "import time\ntime.sleep(0.3)\nprint(2 * int(input()))"  # (sleeping costs no CPU time)
    v2 = judge(sleepy, DOUBLE, 0.2, 256 * MB, sandbox=rec, workers=4)
    assert v1["passed"] and v2["passed"]
    assert rec.most >= 2  # tests ran at the same time
    bad = "import time\nn = int(input())\ntime.sleep(0.2)\nprint(2 * n if n != -3 else 1)"
    v = judge(bad, DOUBLE, 1.0, 256 * MB, sandbox=fork_sb, workers=4, stop_at_first_failure=True)
    assert (v["failure"], v["failed_test"]) == ("wrong_answer", 2)


@needs_sandbox
def test_judge_many(fork_sb):
    rows = [
        {"completion": "```python\nprint(2 * int(input()))\n```", "tests": DOUBLE, "time_limit_s": 1, "memory_limit_bytes": 256 * MB},
        {"completion": "no code", "tests": DOUBLE, "time_limit_s": 1, "memory_limit_bytes": 256 * MB},
        {"program": "print(1)", "tests": DOUBLE, "time_limit_s": 1, "memory_limit_bytes": 256 * MB},
        {"program": "while True: pass", "tests": DOUBLE[:1], "time_limit_s": 0.3, "memory_limit_bytes": 256 * MB},
    ] * 3
    out = judge_many(rows, sandbox=fork_sb, workers=2, stop_at_first_failure=True)
    assert [v["failure"] for v in out] == ["", "no_code", "wrong_answer", "time_limit"] * 3
    assert [v["passed"] for v in out] == [True, False, False, False] * 3


def test_judge_many_refuses_without_isolation(monkeypatch):
    monkeypatch.setattr(S, "_PROBE", {"unshare": "forced off for this test", "userns": "forced off too"})
    with pytest.raises(S.SandboxUnavailable):
        judge_many([{"program": "print(1)", "tests": [("", "1")], "time_limit_s": 1, "memory_limit_bytes": 0}])


# ----------------------------------------------------------------------------- fork server == plain runner

SAME = {
    "ok": "print(2 * int(input()))",
    "ok_stdin_buffer": "import sys\nprint(2 * int(sys.stdin.buffer.read()))",
    "ok_open0": "print(2 * int(open(0).read()))",
    "ok_thread": "import threading\ndef main():\n    print(2 * int(input()))\nthreading.Thread(target=main).start()",
    "ok_exit": "print(2 * int(input()))\nexit()",
    "ok_exit0": "import sys\nprint(2 * int(input()))\nsys.exit(0)",
    "ok_atexit": "import atexit\nn = int(input())\natexit.register(lambda: print(2 * n))",
    "ok_recursion": "import sys\nsys.setrecursionlimit(10000)\ndef f(k): return 0 if k == 0 else 1 + f(k - 1)\nprint(2 * int(input()) + f(3000) - 3000)",
    "ok_main_guard": "def main():\n    print(2 * int(input()))\nif __name__ == '__main__':\n    main()",
    "wa_crlf": "print(repr(input()))",
    "wa_name": "print(__name__, __file__)",
    "wa_argv": "import sys\nprint(sys.argv)",
    "wa_lost_output": "import os\nprint(2 * int(input()))\nos._exit(0)",
    "re_exit3": "print(2 * int(input()))\nimport sys\nsys.exit(3)",
    "re_exit_msg": "print(2 * int(input()))\nexit('bye')",
    "re_syntax": "print(2 * int(input())",
    "re_deep_recursion": "def f(k): return f(k + 1)\nf(0)",
    "re_segfault": "import ctypes\nctypes.string_at(0)",  # a real crash: killed by SIGSEGV
    "wa_output_limit": "import sys\nsys.stdout.write('x' * (2 << 20))",
    "tle": "while True: pass",
    "mle": "x = bytearray(3 * 10 ** 9)",
    "mle_grow": "a = []\nwhile True:\n    a.append(bytearray(8 << 20))",
}


@needs_sandbox
def test_fork_server_verdicts_equal_plain_runner(fork_sb, exec_sb):
    tests = [("2\n", "4\n"), ("21\r\n", "42\n")]
    for name, prog in SAME.items():
        vf = judge(prog, tests, 0.5, 256 * MB, sandbox=fork_sb)
        ve = judge(prog, tests, 0.5, 256 * MB, sandbox=exec_sb)
        # (the detail of a time limit holds the measured wall time, which may differ by a few ms)
        key = lambda v: (v["passed"], v["tests_passed"], v["failure"], v["failed_test"],
                         v["detail"].split(":")[0] if v["failure"] != "time_limit" else "")
        assert key(vf) == key(ve), (name, vf, ve)
        want = name.split("_")[0]
        assert vf["failure"] == {"ok": "", "wa": "wrong_answer", "re": "runtime_error", "tle": "time_limit",
                                 "mle": "memory_limit"}[want], (name, vf)
    # outputs themselves are identical too (streams, argv, __main__, newline handling)
    for prog in [SAME["wa_crlf"], SAME["wa_name"], SAME["wa_argv"], "import sys\nprint(sys.stdin.encoding, sys.stdout.encoding, sys.stdin.errors, sys.getrecursionlimit() > 900)"]:
        rf = fork_sb.run(prog, "21\r\n", time_limit_s=1, memory_limit_bytes=256 * MB)
        re_ = exec_sb.run(prog, "21\r\n", time_limit_s=1, memory_limit_bytes=256 * MB)
        assert rf.stdout == re_.stdout, (prog, rf.stdout, re_.stdout)
    # and so are exit codes and tracebacks (none of the fork server's own frames), compiled or from the
    # code cache (the second run of a program)
    for prog in [SAME["re_syntax"], "def f(k):\n    return 1 // k\nprint(f(int(input()) - 21))",
                 "raise KeyboardInterrupt", SAME["re_exit_msg"]]:
        for _ in range(2):
            rf = fork_sb.run(prog, "21\r\n", time_limit_s=1, memory_limit_bytes=256 * MB)
            re_ = exec_sb.run(prog, "21\r\n", time_limit_s=1, memory_limit_bytes=256 * MB)
            assert (rf.exit_code, rf.stderr) == (re_.exit_code, re_.stderr), (prog, rf, re_)


@pytest.fixture
def busy_cores():
    """One spinning process per core for the duration of a test: the machine is as busy as a loaded
    cluster node (or a CI machine running other jobs)."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    yield
    for p in spinners:
        p.kill()
        p.wait()


@needs_sandbox
@pytest.mark.parametrize("mode", ["fork", "exec"])
def test_limits_decide_on_a_busy_machine(busy_cores, fork_sb, exec_sb, mode):
    # the verdict rests on what the program did (its CPU time, a failed allocation), not on the load:
    # a program that grows until the memory limit is memory_limit, one that computes is time_limit,
    # one that sleeps is stopped by the wall-clock backstop, a quick one passes
    box = fork_sb if mode == "fork" else exec_sb
    tests = [("2\n", "4\n")]
    cases = [(SAME["mle_grow"], "memory_limit"), (SAME["mle"], "memory_limit"),
             (KINDS["memory_limit"], "memory_limit"), ("a = []\nwhile True:\n    a.append([0] * 100000)", "memory_limit"),
             (SAME["tle"], "time_limit"), (CPU_0_3, "time_limit"), ("import time\ntime.sleep(60)", "time_limit"),
             (SAME["ok"], ""), ("import time\ntime.sleep(0.6)\nprint(4)", "")]
    for prog, want in cases:
        for _ in range(3 if want == "memory_limit" else 1):
            v = judge(prog, tests, 0.25, 128 * MB, sandbox=box)
            assert v["failure"] == want, (prog, v)
    r = box.run("import time\ntime.sleep(60)", "", time_limit_s=0.25)
    assert r.killed_for == "wall" and r.cpu_s < 0.25 and r.wall_s >= S.wall_limit(0.25)
    r = box.run(SAME["tle"], "", time_limit_s=0.25)
    assert r.killed_for == "cpu" and r.cpu_s >= 0.25


@needs_sandbox
def test_forked_programs_do_not_share_random_state(fork_sb):
    outs = {fork_sb.run("import random\nprint(random.random())", "", time_limit_s=1).stdout for _ in range(5)}
    assert len(outs) == 5


# ----------------------------------------------------------------------------- self-test gate and real data

@needs_sandbox
def test_selftest_gate_builtin(fork_sb):
    ok, rows = run_selftest(None, sandbox=fork_sb, verbose=False)
    assert ok and len(rows) >= 7
    kinds = {want for _, _, want, _ in rows}
    assert kinds == {"", "wrong_answer", "time_limit", "memory_limit", "runtime_error", "no_code"}


@needs_sandbox
@pytest.mark.skipif(not os.path.exists(SAMPLE), reason="CodeContests sample not available")
def test_selftest_gate_real_problems(fork_sb):
    ok, rows = run_selftest(SAMPLE, sandbox=fork_sb, verbose=False)
    names = {name for name, _, _, _ in rows}
    assert ok and {"1613_A", "1619_A", "1619_B", "1620_A"} <= names


@needs_sandbox
@pytest.mark.skipif(not os.path.exists(SAMPLE), reason="CodeContests sample not available")
def test_real_problem_public_solution_shapes(fork_sb):
    # smoke: every real problem loads, and a program printing nothing fails every one of them
    with open(SAMPLE) as f:
        recs = [json.loads(line) for line in f]
    rows = [{"program": "pass", "tests": problem_tests(r, ("public_tests",)), "time_limit_s": problem_limits(r)[0],
             "memory_limit_bytes": problem_limits(r)[1]} for r in recs]
    out = judge_many(rows, sandbox=fork_sb, workers=2, stop_at_first_failure=True)
    assert len(out) == 50 and all(v["failure"] == "wrong_answer" for v in out)
