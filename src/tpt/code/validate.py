"""Which problems can the tests judge? Run a few known solutions of each problem through the judge.

Full CodeContests records carry the programs Codeforces accepted (`solutions`) and rejected
(`incorrect_solutions`), each {"language": [...], "solution": [...]}. Some of each, in Python 3, are judged on
the problem's tests (the ones the run uses), each stopping at its first failed test:

  correct_fails     a known-correct solution is judged wrong_answer or runtime_error: the problem accepts
                    several answers ("print any such array": CodeContests stores one expected output and no
                    checker) or its tests are broken. A time or memory limit is not counted: accepted Python
                    solutions were often judged on a faster interpreter (PyPy) than this one.
  incorrect_passes  a known-incorrect solution passes every test: the tests are too weak to tell.

task.validate says what to do with each kind: keep (check, record nothing), flag (keep the problem, count it
in the report), drop_train / drop_eval (leave it out of the train split / the other splits) or drop (both).
Records without Python 3 solutions are not checked (the CodeContests sample in ../shared has none).
"""

import pandas as pd

from tpt.code.judge import judge

KINDS = ("correct_fails", "incorrect_passes")
ACTIONS = ("keep", "flag", "drop_train", "drop_eval", "drop")
PYTHON3 = {3, "3", "PYTHON3", "python3"}  # CodeContests' language enum: 1 is Python 2, 3 is Python 3


def python_solutions(record, field, n):
    """The first n Python 3 programs of record[field] ("solutions" or "incorrect_solutions")."""
    sols = record.get(field) or {}
    pairs = zip(sols.get("language") or [], sols.get("solution") or [])
    return [code for lang, code in pairs if lang in PYTHON3 and code and code.strip()][:n]


def check_problem(record, tests, time_limit_s, memory_limit_bytes, *, sandbox, n, time_factor=1.0):
    """Judge up to n known-correct and n known-incorrect Python solutions of `record` on `tests`. Returns
    None when the record has none, else {"correct_checked", "correct_failed", "incorrect_checked",
    "incorrect_passed", "kinds" (the KINDS found), "detail" (why, for the first of them)}."""
    correct = python_solutions(record, "solutions", n)
    incorrect = python_solutions(record, "incorrect_solutions", n)
    if not correct and not incorrect:
        return None
    run = lambda prog: judge(prog, tests, time_limit_s, memory_limit_bytes, sandbox=sandbox,
                             stop_at_first_failure=True, time_factor=time_factor)
    failed = [v for v in map(run, correct) if v["failure"] in ("wrong_answer", "runtime_error")]
    passed = [v for v in map(run, incorrect) if v["passed"]]
    kinds, detail = [], ""
    if failed:
        kinds.append("correct_fails")
        v = failed[0]
        detail = f"a correct solution: {v['failure']} on test {v['failed_test']} ({v['detail'][:120]})"
    if passed:
        kinds.append("incorrect_passes")
        detail = detail or f"an incorrect solution passed all {passed[0]['tests_total']} tests"
    return {"correct_checked": len(correct), "correct_failed": len(failed), "incorrect_checked": len(incorrect),
            "incorrect_passed": len(passed), "kinds": kinds, "detail": detail}


def action(kinds, policy, split):
    """What happens to a problem whose check found `kinds` in `split`: "drop", "flag" or "keep".
    policy: {kind: one of ACTIONS}; drop_train drops from the train split, drop_eval from every other."""
    acts = [policy[k] for k in kinds]
    if any(a == "drop" or a == ("drop_train" if split == "train" else "drop_eval") for a in acts):
        return "drop"
    return "flag" if any(a != "keep" for a in acts) else "keep"


def check_problems(records, split, policy, *, sandbox, n, tests_of, limits_of, time_factor=1.0):
    """Check every record (see check_problem). tests_of(record) -> [(input, output)], limits_of(record) ->
    (time_limit_s, memory_limit_bytes). Returns a DataFrame with PROBLEM_CHECKS' columns but problem_id,
    one row per record, in order (checked false and zeros where the record has no Python solutions)."""
    rows = []
    for rec in records:
        c = check_problem(rec, tests_of(rec), *limits_of(rec), sandbox=sandbox, n=n, time_factor=time_factor)
        if c is None:
            rows.append({"checked": False, "correct_checked": 0, "correct_failed": 0, "incorrect_checked": 0,
                         "incorrect_passed": 0, "kinds": "", "action": "keep", "detail": ""})
        else:
            rows.append({"checked": True, **{k: c[k] for k in ("correct_checked", "correct_failed",
                                                               "incorrect_checked", "incorrect_passed")},
                         "kinds": ",".join(c["kinds"]), "action": action(c["kinds"], policy, split),
                         "detail": c["detail"]})
    return pd.DataFrame(rows)


def summary(checks):
    """Counts for the report: {"checked", "correct_fails", "incorrect_passes", "flagged", "dropped"}."""
    has = lambda kind: checks["kinds"].str.split(",").apply(lambda ks: kind in ks)
    return {"problems": len(checks), "checked": int(checks["checked"].sum()),
            "correct_fails": int(has("correct_fails").sum()), "incorrect_passes": int(has("incorrect_passes").sum()),
            "flagged": int((checks["action"] == "flag").sum()), "dropped": int((checks["action"] == "drop").sum())}


def markdown(checks_by_split):
    """A report section: one row per split of the counts in summary()."""
    lines = ["## Problem checks (known solutions through the judge)", "",
             "| split | problems | checked | correct solution fails | incorrect solution passes | flagged | dropped |",
             "|---|---|---|---|---|---|---|"]
    for split, checks in checks_by_split.items():
        s = summary(checks)
        lines.append(f"| {split} | {s['problems']} | {s['checked']} | {s['correct_fails']} | {s['incorrect_passes']} "
                     f"| {s['flagged']} | {s['dropped']} |")
    return "\n".join(lines) + "\n"
