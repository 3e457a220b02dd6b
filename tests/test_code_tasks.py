"""The code tasks (CodeContests, MBPP): their loaders, and their scoring through the sandboxed judge."""
import json
import os

import pandas as pd
import pytest

from conftest import SHARED_DATA
from tpt import artifacts, verify
from tpt.code import selftest
from tpt.code.sandbox import available_backends
from tpt.tasks import codecontests, mbpp

CC = os.path.join(SHARED_DATA, "codecontests", "sample.jsonl")
MBPP = os.path.join(SHARED_DATA, "mbpp", "mbpp.jsonl")
ALL_TESTS = {"code_tests": ["public", "private", "generated"]}
VERIFY = {"criterion": "strict", "workers": 2,
          "code": {"backend": "auto", "allow_unsafe": False, "time_factor": 1.0, "stop_at_first_failure": False}}
needs_data = pytest.mark.skipif(not os.path.exists(CC) or not os.path.exists(MBPP), reason="no ../shared/data")
needs_sandbox = pytest.mark.skipif(not available_backends(), reason="no isolating sandbox backend here")


def _fenced(program):
    return f"Here is my program.\n\n```python\n{program}\n```\nIt reads the input and prints the answer."


@needs_data
def test_codecontests_drops_image_problems_from_eval_and_keeps_every_test():
    test = codecontests.load("test", {"source": CC, **ALL_TESTS})
    train = codecontests.load("train", {"source": CC, **ALL_TESTS})  # one file: used for either split
    records = [json.loads(line) for line in open(CC)]
    with_image = [r["name"] for r in records if "<image>" in r["description"]]
    assert with_image and len(test) == len(records) - len(with_image) and len(train) == len(records)
    assert test["problem_id"].is_unique
    first = records[0]
    spec = json.loads(train.set_index("problem_id").loc[f"codecontests/train/{first['name']}", "answer"])
    assert len(spec["tests"]) == len(first["public_tests"]["input"]) + len(first["private_tests"]["input"])
    assert spec["time_limit_s"] == first["time_limit"]["seconds"] and spec["memory_limit_bytes"] == 512000000
    public = codecontests.load("train", {"source": CC, "code_tests": ["public"]})
    assert len(json.loads(public["answer"].iloc[0])["tests"]) == len(first["public_tests"]["input"])
    assert "```python" in codecontests.prompt(first["description"]) and first["description"] in \
        codecontests.prompt(first["description"])


@needs_data
def test_codecontests_reads_parquet_with_the_same_fields(tmp_path):
    pd.DataFrame([json.loads(line) for line in open(CC)]).to_parquet(tmp_path / "test.parquet")
    from_parquet = codecontests.load("test", {"source": str(tmp_path), **ALL_TESTS})
    assert from_parquet.equals(codecontests.load("test", {"source": CC, **ALL_TESTS}))


def test_codecontests_bad_rows_are_named(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps({"name": "1_A. x", "statement": "?"}) + "\n")
    with pytest.raises(ValueError, match="row 1: needs CodeContests' fields"):
        codecontests.load("train", {"source": str(tmp_path), **ALL_TESTS})
    (tmp_path / "train.jsonl").write_text(json.dumps({"name": "1_A. x", "description": "?"}) + "\n")
    with pytest.raises(ValueError, match="no problem left"):
        codecontests.load("train", {"source": str(tmp_path), **ALL_TESTS})


@needs_data
@needs_sandbox
def test_codecontests_scoring_runs_the_programs_and_records_the_judge(tmp_path):
    problems = codecontests.load("test", {"source": CC, **ALL_TESTS})
    pid = next(p for p in problems["problem_id"] if p.startswith("codecontests/test/1613_A."))
    solutions = os.path.join(selftest.SOLUTIONS_DIR, "1613_A")
    completions = [_fenced(open(os.path.join(solutions, name)).read()) for name in ("correct.py", "wrong_answer.py")]
    samples = pd.DataFrame({"sample_id": [f"s{i}" for i in range(4)], "problem_id": [pid] * 4,
                            "completion": completions + ["print(1) with no code block", "```python\n1/0\n```"],
                            "finish_reason": ["stop", "stop", "length", "stop"]})
    v = verify.verify(samples, problems, codecontests, VERIFY)
    assert v["correct"].tolist() == [True, False, False, False]
    assert v["failure"].tolist() == ["", "wrong_answer", "no_code", "runtime_error"]
    assert v["parsed"].tolist() == [True, True, False, True]
    total = len(json.loads(problems.set_index("problem_id").loc[pid, "answer"])["tests"])
    assert v["tests_passed"].iloc[0] == v["tests_total"].iloc[0] == total
    assert v["backend"].str.endswith("+fork").all() and v["correct_numeric"].isna().all()
    artifacts.write(v, str(tmp_path / "verdicts.parquet"), artifacts.VERDICTS)  # the one VERDICTS schema
    assert artifacts.read(str(tmp_path / "verdicts.parquet"), artifacts.VERDICTS)["failure"].tolist()[:2] == \
        ["", "wrong_answer"]


@needs_data
def test_mbpp_splits_by_task_id_and_shows_the_tests_in_the_prompt():
    train, test = mbpp.load("train", {"source": MBPP}), mbpp.load("test", {"source": MBPP})
    assert (len(train), len(test)) == (374, 500)
    assert test["problem_id"].iloc[0] == "mbpp/11" and "assert remove_Occ(" in test["question"].iloc[0]
    assert not set(train["problem_id"]) & set(test["problem_id"])


@needs_data
@needs_sandbox
def test_mbpp_reference_solutions_pass_and_wrong_ones_fail():
    test = mbpp.load("test", {"source": MBPP}).set_index("problem_id")
    ids = ["mbpp/11", "mbpp/12", "mbpp/367"]  # 367 builds its test trees in test_setup_code from the solution's class
    answers = [test.loc[i, "answer"] for i in ids]
    good = mbpp.score_all([_fenced(test.loc[i, "solution"]) for i in ids], answers, VERIFY)
    assert [v["correct_strict"] for v in good] == [True, True, True]
    noisy = _fenced("print('debug')\n" + test.loc["mbpp/11", "solution"])  # its own prints do not count
    wrong = _fenced("def remove_Occ(s, ch):\n    return s")
    v = mbpp.score_all([noisy, wrong, "no code"], answers[:1] * 3, VERIFY)
    assert [x["failure"] for x in v] == ["", "wrong_answer", "no_code"]
    assert v[1]["tests_passed"] == 0 and v[1]["tests_total"] == 3 and "does not hold" in v[1]["detail"]


@needs_data
@needs_sandbox
def test_judge_cli_scores_a_parquet_of_completions(tmp_path):
    import subprocess
    import sys

    rows = []
    for folder in ("1613_A", "1619_A", "1619_B"):
        pid = next(f"codecontests/test/{json.loads(line)['name']}" for line in open(CC)
                   if json.loads(line)["name"].startswith(folder + "."))
        for name in sorted(os.listdir(os.path.join(selftest.SOLUTIONS_DIR, folder))):
            program = open(os.path.join(selftest.SOLUTIONS_DIR, folder, name)).read()
            rows.append({"problem_id": pid, "completion": _fenced(program), "want": selftest.expected_kind(name)})
    rows.append({"problem_id": rows[0]["problem_id"], "completion": "no code at all", "want": "no_code"})
    pd.DataFrame(rows).to_parquet(tmp_path / "completions.parquet")
    cli = os.path.join(os.path.dirname(sys.executable), "tpt-judge")
    run = subprocess.run([cli, str(tmp_path / "completions.parquet"), "--task", "codecontests", "--source", CC,
                          "--out", str(tmp_path / "verdicts.parquet")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    v = artifacts.read(str(tmp_path / "verdicts.parquet"), artifacts.VERDICTS)
    assert v["failure"].tolist() == [r["want"] for r in rows]
    assert v["sample_id"].iloc[0] == rows[0]["problem_id"] + "/0"
    assert f"{len(rows)} completions of 3 problems" in run.stdout and "no_code" in run.stdout

    pd.DataFrame({"problem_id": ["x"], "text": ["y"]}).to_parquet(tmp_path / "bad.parquet")
    bad = subprocess.run([cli, str(tmp_path / "bad.parquet"), "--task", "mbpp", "--source", MBPP],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "needs the columns problem_id and completion" in bad.stderr
