import json
import os

import pytest

from conftest import SHARED_DATA
from tpt import gsm8k_scorer, tasks
from tpt.tasks import arith, gsm8k

OPTIONS = {"seed": 3, "test_problems": 50, "train_problems": 300, "warmup_problems": 300, "teacher_slip_rate": 0.4}


def test_arith_splits_are_disjoint_and_reproducible():
    splits = {s: arith.load(s, OPTIONS) for s in ("test", "train", "warmup")}
    questions = [set(df["question"]) for df in splits.values()]
    assert all(len(q) == len(df) for q, df in zip(questions, splits.values()))
    assert not (questions[0] & questions[1] or questions[0] & questions[2] or questions[1] & questions[2])
    assert arith.load("train", OPTIONS).equals(splits["train"])
    assert not arith.load("train", {**OPTIONS, "seed": 4}).equals(splits["train"])


def test_arith_clean_solutions_reach_the_answer_and_the_teacher_slips_at_its_rate():
    test = arith.load("test", OPTIONS)
    assert all(gsm8k_scorer.score(s, a)["correct_strict"] for s, a in zip(test["solution"], test["answer"]))
    warm = arith.load("warmup", OPTIONS)
    wrong = sum(not gsm8k_scorer.score(s, a)["correct_strict"] for s, a in zip(warm["solution"], warm["answer"]))
    assert 0.3 < wrong / len(warm) < 0.5


def test_unknown_task_lists_the_known_ones():
    with pytest.raises(ValueError, match="arith"):
        tasks.get("gsm9k")


@pytest.mark.skipif(not os.path.isdir(os.path.join(SHARED_DATA, "gsm8k")), reason="no ../shared/data")
def test_gsm8k_official_files_and_the_papers_500_subset():
    folder = os.path.join(SHARED_DATA, "gsm8k")
    train = gsm8k.load("train", {"source": folder})
    test500 = gsm8k.load("test", {"source": folder, "test_subset": "test500"})
    assert len(train) == 7473 and len(test500) == 500
    assert train["answer"].iloc[0] == "72" and train["problem_id"].iloc[0] == "gsm8k/train/0"
    # index 869 of the official test file is the phone seller problem (see the data README)
    assert "phones for $700" in test500.set_index("problem_id").loc["gsm8k/test/869", "question"]
    assert "Problem: " + train["question"].iloc[0] in gsm8k.prompt(train["question"].iloc[0])


def test_gsm8k_bad_rows_are_named(tmp_path):
    rows = [{"question": "q", "answer": "a\n#### 1"}, {"question": "q2", "answer": "no final answer"}]
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(ValueError, match="row 2: the answer has no '#### <final answer>'"):
        gsm8k.load("train", {"source": str(tmp_path)})
    (tmp_path / "train.jsonl").write_text('{"question": "q"}\n')
    with pytest.raises(ValueError, match="row 1: needs string fields"):
        gsm8k.load("train", {"source": str(tmp_path)})
    with pytest.raises(FileNotFoundError, match="test.jsonl"):
        gsm8k.load("test", {"source": str(tmp_path)})
    with pytest.raises(FileNotFoundError, match="no such folder"):
        gsm8k.load("test", {"source": str(tmp_path / "missing")})


def test_arith_validation_replaces_the_test_problems_with_fresh_ones():
    splits = {s: arith.load(s, OPTIONS) for s in ("test", "train", "warmup")}
    val = arith.load("test", {**OPTIONS, "evaluate_on": "validation"})
    assert len(val) == len(splits["test"]) and val["problem_id"].str.startswith("arith/validation/").all()
    for df in splits.values():
        assert not set(val["question"]) & set(df["question"])
    assert arith.load("train", {**OPTIONS, "evaluate_on": "validation"}).equals(splits["train"])
