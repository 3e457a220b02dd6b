"""Problem checks (tpt.code.validate): known-correct and known-incorrect solutions of hand-made CodeContests
records through the judge, the per-problem kinds, what task.validate does with them, the report's counts."""
import json

import pandas as pd
import pytest

from tpt import artifacts
from tpt.code import validate
from tpt.code.sandbox import Sandbox, available_backends
from tpt.tasks import codecontests

needs_sandbox = pytest.mark.skipif(not available_backends(), reason="no isolating sandbox backend here")
PY3, PY2, CPP = 3, 1, 2  # CodeContests' language enum


def record(name, tests, correct=(), incorrect=(), languages=None):
    """A CodeContests record: tests [(input, output)], solutions as (language, source) or plain Python 3 source."""
    sols = lambda progs: {"language": [p[0] if isinstance(p, tuple) else PY3 for p in progs],
                          "solution": [p[1] if isinstance(p, tuple) else p for p in progs]}
    return {"name": name, "description": f"problem {name}", "public_tests": {"input": [t[0] for t in tests[:1]],
            "output": [t[1] for t in tests[:1]]}, "private_tests": {"input": [t[0] for t in tests[1:]],
            "output": [t[1] for t in tests[1:]]}, "generated_tests": {"input": [], "output": []},
            "solutions": sols(correct), "incorrect_solutions": sols(incorrect),
            "time_limit": {"seconds": 2, "nanos": 0}, "memory_limit_bytes": 256 << 20}


SUM = "a, b = map(int, input().split())\nprint(a + b)"
RECORDS = [
    # sound: the correct solutions pass, the incorrect ones fail
    record("1_A. Sum", [("1 2\n", "3\n"), ("-4 4\n", "0\n"), ("10 5\n", "15\n")],
           correct=[SUM, "print(sum(map(int, open(0).read().split())))"],
           incorrect=["a, b = map(int, input().split())\nprint(a - b)", (PY2, "print 3")]),
    # several valid answers: "print any two positive numbers with sum n"; one expected output only
    record("2_B. Any pair", [("5\n", "1 4\n"), ("2\n", "1 1\n")],
           correct=["n = int(input())\nprint(1, n - 1)", "n = int(input())\nprint(n - 1, 1)"],
           incorrect=["print(0, 0)"]),
    # weak tests: every test has n = 1, so a program that ignores n passes
    record("3_C. Square", [("1\n", "1\n"), ("1\n", "1\n")],
           correct=["n = int(input())\nprint(n * n)"], incorrect=["input()\nprint(1)", "print(2)"]),
    # no Python 3 solutions: not checked
    record("4_D. Cpp only", [("1\n", "1\n")], correct=[(CPP, "int main() {}"), (PY2, "print 1")]),
]
KEEP_FLAG = {"correct_fails": "flag", "incorrect_passes": "flag"}


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as box:
        yield box


def test_python_solutions_and_actions():
    assert validate.python_solutions(RECORDS[0], "solutions", 5) == [SUM, "print(sum(map(int, open(0).read().split())))"]
    assert validate.python_solutions(RECORDS[0], "solutions", 1) == [SUM]
    assert validate.python_solutions(RECORDS[0], "incorrect_solutions", 5) == ["a, b = map(int, input().split())\nprint(a - b)"]
    assert validate.python_solutions(RECORDS[3], "solutions", 5) == []
    assert validate.python_solutions({"name": "x"}, "solutions", 5) == []  # (records without the fields)
    policy = {"correct_fails": "drop_train", "incorrect_passes": "keep"}
    assert validate.action(["correct_fails"], policy, "train") == "drop"
    assert validate.action(["correct_fails"], policy, "test") == "flag"
    assert validate.action(["incorrect_passes"], policy, "train") == "keep"
    assert validate.action([], policy, "train") == "keep"
    policy = {"correct_fails": "flag", "incorrect_passes": "drop_eval"}
    assert validate.action(["correct_fails", "incorrect_passes"], policy, "test") == "drop"
    assert validate.action(["correct_fails", "incorrect_passes"], policy, "train") == "flag"
    assert validate.action(["incorrect_passes"], {"correct_fails": "keep", "incorrect_passes": "drop"}, "train") == "drop"


@needs_sandbox
def test_check_problems_finds_each_kind(sandbox):
    tests_of = lambda r: list(zip(r["public_tests"]["input"] + r["private_tests"]["input"],
                                  r["public_tests"]["output"] + r["private_tests"]["output"]))
    limits = lambda r: (2.0, 256 << 20)
    checks = validate.check_problems(RECORDS, "train", KEEP_FLAG, sandbox=sandbox, n=3, tests_of=tests_of,
                                     limits_of=limits)
    assert list(checks["checked"]) == [True, True, True, False]
    assert list(checks["kinds"]) == ["", "correct_fails", "incorrect_passes", ""]
    assert list(checks["action"]) == ["keep", "flag", "flag", "keep"]
    assert list(checks["correct_checked"]) == [2, 2, 1, 0] and list(checks["correct_failed"]) == [0, 1, 0, 0]
    assert list(checks["incorrect_checked"]) == [1, 1, 2, 0] and list(checks["incorrect_passed"]) == [0, 0, 1, 0]
    assert "wrong_answer on test 0" in checks["detail"][1] and "passed all 2 tests" in checks["detail"][2]
    # n limits the solutions judged: the first correct solution of "Any pair" happens to print the stored answers
    one = validate.check_problems(RECORDS[1:2], "test", KEEP_FLAG, sandbox=sandbox, n=1, tests_of=tests_of,
                                  limits_of=limits)
    assert (one["correct_checked"][0], one["correct_failed"][0], one["kinds"][0]) == (1, 0, "")


@needs_sandbox
def test_codecontests_checks_drop_per_split_and_report_counts(sandbox, tmp_path):
    src = tmp_path / "cc.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    code = {"backend": "auto", "allow_unsafe": False, "time_factor": 1.0}
    options = {"source": str(src), "code_tests": ["public", "private", "generated"],
               "validate": {"solutions": 2, "correct_fails": "drop_train", "incorrect_passes": "drop_eval"}}
    train = codecontests.check_problems("train", options, code)
    test = codecontests.check_problems("test", options, code)
    assert list(train["problem_id"]) == [f"codecontests/train/{r['name']}" for r in RECORDS]
    assert list(train["action"]) == ["keep", "drop", "flag", "keep"]
    assert list(test["action"]) == ["keep", "flag", "drop", "keep"]
    # the artifact round-trips with its schema, and the report counts per split
    artifacts.write(train, str(tmp_path / "train_checks.parquet"), artifacts.PROBLEM_CHECKS)
    back = artifacts.read(str(tmp_path / "train_checks.parquet"), artifacts.PROBLEM_CHECKS)
    assert validate.summary(back) == {"problems": 4, "checked": 3, "correct_fails": 1, "incorrect_passes": 1,
                                      "flagged": 1, "dropped": 1}
    md = validate.markdown({"train": back, "test": test})
    assert "| train | 4 | 3 | 1 | 1 | 1 | 1 |" in md and "| test | 4 | 3 | 1 | 1 | 1 | 1 |" in md
    empty = artifacts.PROBLEM_CHECKS.empty_table().to_pandas()
    assert validate.summary(empty)["checked"] == 0
