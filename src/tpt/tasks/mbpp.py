"""MBPP (Austin et al., 2021): short Python functions described in one sentence, checked by the problem's
`assert` lines. It runs on the same sandbox as CodeContests and shows that a new task is a loader, a prompt and a
scorer, with no change to the rules.

Loads the `mbpp` dataset (config "full") through HF `datasets` on machines with a hub, or the original
`mbpp.jsonl` (all 974 problems, split by task_id as the paper did: 11-510 test, 601-974 train; 1-10 are its
few-shot examples and 511-600 validation; any one file is split so) or a folder with <split>.jsonl / <split>.parquet.

Each assert is one test: the program (the completion's first code block) runs, then the problem's
test_setup_code (it may use the solution's classes), then the assert, read from stdin; the test passes when the
harness below reaches its last line and prints PASSED.
"""
import os

import pandas as pd

from tpt.code import verify as code_verify
from tpt.code.judge import extract_program
from tpt.tasks import read_split

SCORINGS = ("strict",)  # strict: every assert holds
CODE = True  # scored by running programs in the sandbox (tpt.code)
SPLIT_IDS = {"train": range(601, 975), "test": range(11, 511), "validation": range(511, 601)}
TIME_LIMIT_S = 5.0
MEMORY_LIMIT_BYTES = 512 << 20
PASSED = "PASSED"

PROMPT = ("You are an expert Python programmer, and here is your task: {question}\n\n"
          "Give the function in one ```python code block.")

# The program the sandbox runs for one test. The solution's own prints go to a buffer, so only the harness
# writes the expected output, and only once the assert (stdin) has held; an assert that fails is a wrong answer,
# any other exception a runtime error.
HARNESS = """import io as _io, sys as _sys
_stdout, _sys.stdout = _sys.stdout, _io.StringIO()
exec(compile({program!r}, "solution.py", "exec"))
exec(compile({setup!r}, "setup.py", "exec"))
try:
    exec(compile(_sys.stdin.read(), "test.py", "exec"))
    _verdict = {passed!r}
except AssertionError:
    _verdict = "the assert does not hold"
_sys.stdout = _stdout
print(_verdict)
"""


def prompt(question):
    return PROMPT.format(question=question)


def load(split, options):
    source = options.get("source") or "mbpp"
    rows, where = read_split(source, split, hub_name="full")
    if os.path.isfile(source):  # one file holds every split (the original mbpp.jsonl): keep this split's ids
        rows = [row for row in rows if row.get("task_id") in SPLIT_IDS[split]]
    problems = []
    for i, row in enumerate(rows):
        if not isinstance(row.get("text"), str) or not list(row.get("test_list") or []):
            raise ValueError(f"{where}, row {i + 1}: needs MBPP's fields 'text' and 'test_list' (has {sorted(row)})")
        asserts = [str(a) for a in row["test_list"]]
        # the usual MBPP prompt shows the tests, which also fixes the function's name and signature
        question = row["text"] + " Your code should pass these tests:\n\n" + "\n".join(asserts)
        answer = code_verify.encode_answer([(a, PASSED) for a in asserts], TIME_LIMIT_S, MEMORY_LIMIT_BYTES,
                                           setup=row.get("test_setup_code") or "")
        problems.append({"problem_id": f"mbpp/{row['task_id']}", "question": question, "answer": answer,
                         "solution": row.get("code")})
    return pd.DataFrame(problems)


def program_of(completion, spec):
    """The harness around the completion's first code block (None: no code)."""
    program = extract_program(completion)
    if program is None:
        return None
    return HARNESS.format(setup=spec.get("setup", ""), program=program, passed=PASSED)


def score_all(completions, answers, options):
    return code_verify.score_all(completions, answers, options, program_of=program_of)
