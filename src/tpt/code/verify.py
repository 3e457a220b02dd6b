"""Score completions of a code task: the judge (tpt.code.judge) runs each program in the sandbox on the problem's
tests, and its verdict becomes VERDICTS columns. Shared by the code tasks (tpt.tasks.codecontests, .mbpp).

A code problem's gold `answer` (PROBLEMS) is one JSON string holding what the judge needs:
    {"tests": [[stdin, expected stdout], ...], "time_limit_s": 2.0, "memory_limit_bytes": 268435456, ...}
"""
import json

from tpt.code.judge import extract_program, judge_many
from tpt.progress import Progress


def encode_answer(tests, time_limit_s, memory_limit_bytes, **extra):
    """A code problem's `answer`: its tests and limits (and any task-specific extra, e.g. MBPP's setup code)."""
    if not tests:
        raise ValueError("a code problem needs at least one test")
    return json.dumps({"tests": [[i, o] for i, o in tests], "time_limit_s": float(time_limit_s),
                       "memory_limit_bytes": int(memory_limit_bytes), **extra})


def program_of_completion(completion, spec):
    """The program to run: the completion's first fenced code block (None: "no code")."""
    return extract_program(completion)


def score_all(completions, answers, options, program_of=program_of_completion):
    """Judge every completion against its problem's answer (encode_answer's JSON). options: the config's
    `verify` section (its `code` keys set the sandbox and limits; `workers`, the cores to use).
    program_of(completion, spec) turns a completion into the program to run."""
    code = options["code"]
    specs = {}  # answer string -> decoded spec: the n samples of a problem share one
    rows = []
    for completion, answer in zip(completions, answers):
        if answer not in specs:
            specs[answer] = json.loads(answer)
        spec = specs[answer]
        rows.append({"program": program_of(completion, spec), "tests": spec["tests"],
                     "time_limit_s": spec["time_limit_s"], "memory_limit_bytes": spec["memory_limit_bytes"]})
    verdicts = judge_many(rows, workers=options.get("workers"), backend=code["backend"],
                          allow_unsafe=code["allow_unsafe"], time_factor=code["time_factor"],
                          stop_at_first_failure=code["stop_at_first_failure"],
                          progress=Progress("judge", len(rows), code.get("progress_interval_s", 60)))
    return [{"parsed": v["failure"] != "no_code", "correct_strict": v["passed"],
             "tests_passed": v["tests_passed"], "tests_total": v["tests_total"], "failure": v["failure"],
             "failed_test": v["failed_test"], "detail": v["detail"], "backend": v["backend"],
             "wall_s": v["wall_s"]} for v in verdicts]
