"""CodeContests (Li et al., 2022): competitive-programming problems, solved by a Python 3 program that reads
stdin and writes stdout, judged on the problem's tests in the sandbox (tpt.code).

Loads `deepmind/code_contests` through HF `datasets` on machines with a hub, or local .jsonl/.parquet files with
the same fields (task.source: a folder with <split>.jsonl or <split>.parquet, or one file). The paper trains on
the train split and evaluates on the test split without the problems whose statement shows an image (its 140).
"""
import pandas as pd

from tpt.code.judge import problem_limits, problem_tests
from tpt.code.verify import encode_answer, score_all  # noqa: F401  (the task's scorer: run the tests)
from tpt.tasks import read_split

SCORINGS = ("strict",)  # strict: the program passes every test
CODE = True  # scored by running programs in the sandbox (tpt.code)
TEST_SPLITS = {"public": "public_tests", "private": "private_tests", "generated": "generated_tests"}

PROMPT = (
    "You are an expert competitive programmer. You are provided with a programming problem. Solve it with a "
    "complete Python 3 program that reads the input from standard input and writes the answer to standard "
    "output.\n\n"
    "Problem:\n{question}\n\n"
    "Requirements:\n"
    "1. Explain your approach briefly.\n"
    "2. Give the whole program in one ```python code block; it is run as it is, on every test.")


def prompt(question):
    return PROMPT.format(question=question)


def has_image(description):
    """CodeContests marks the place of a figure in a statement with an <image> tag."""
    return "<image>" in description


def load(split, options):
    return pd.DataFrame([problem for _, problem in _problems(split, options)])


def check_problems(split, options, code):
    """Run known solutions of every problem of `split` through the judge (tpt.code.validate; task.validate
    says how many and what to do with each kind; code: verify.code, the judge's settings). Returns a
    DataFrame with artifacts.PROBLEM_CHECKS' columns, one row per problem that load() returns."""
    from tpt.code.sandbox import Sandbox
    from tpt.code.validate import check_problems as check
    pairs = _problems(split, options)
    v, splits = options["validate"], [TEST_SPLITS[name] for name in options["code_tests"]]
    with Sandbox(backend=code["backend"], allow_unsafe=code["allow_unsafe"]) as sandbox:
        checks = check([row for row, _ in pairs], split, {k: v[k] for k in ("correct_fails", "incorrect_passes")},
                       sandbox=sandbox, n=v["solutions"], tests_of=lambda row: problem_tests(row, splits),
                       limits_of=problem_limits, time_factor=code["time_factor"])
    checks.insert(0, "problem_id", [problem["problem_id"] for _, problem in pairs])
    return checks


def _problems(split, options):
    """[(record, problem row), ...] of the problems of a split that can be judged."""
    rows, where = read_split(options.get("source") or "deepmind/code_contests", split)
    splits = [TEST_SPLITS[name] for name in options["code_tests"]]
    problems, dropped, untested = [], 0, 0
    for i, row in enumerate(rows):
        if not isinstance(row.get("name"), str) or not isinstance(row.get("description"), str):
            raise ValueError(f"{where}, row {i + 1}: needs CodeContests' fields 'name' and 'description' "
                             f"(has {sorted(row)})")
        if split == "test" and has_image(row["description"]):
            dropped += 1
            continue
        tests = problem_tests(row, splits)
        if not tests:  # nothing to judge against: the problem could never be verified
            untested += 1
            continue
        problems.append((row, {"problem_id": f"codecontests/{split}/{row['name']}", "question": row["description"],
                               "answer": encode_answer(tests, *problem_limits(row)), "solution": None}))
    if not problems:
        raise ValueError(f"{where}: no problem left (of {len(rows)}: {dropped} show an image, {untested} have no "
                         f"{'/'.join(options['code_tests'])} tests): check task.source and task.code_tests")
    return problems
