import pandas as pd
import pytest

from tpt.prune import NoSurvivors, prune

PAPER = {"strategy": "correct", "per_problem": 1, "drop_truncated": True, "dedupe": True, "size": None,
         "val_size": 0, "seed": 0}


def _round(rows, tests_passed=None):
    """rows: (problem_id, sample_index, completion, correct, truncated); tests_passed: one per row (code tasks)"""
    samples = pd.DataFrame([{"sample_id": f"{p}/{i}", "problem_id": p, "sample_index": i, "prompt": f"Q {p}",
                             "completion": c} for p, i, c, _, _ in rows])
    verdicts = pd.DataFrame([{"sample_id": f"{p}/{i}", "correct": ok, "truncated": t} for p, i, _, ok, t in rows])
    verdicts["tests_passed"] = tests_passed
    return samples, verdicts


ROWS = [("a", 0, "wrong", False, False), ("a", 1, "right 1", True, False), ("a", 2, "right 2", True, False),
        ("a", 3, "right 1", True, False), ("b", 0, "cut", True, True), ("b", 1, "wrong", False, False),
        ("c", 0, "only", True, False)]


def test_paper_keeps_the_first_correct_sample_of_each_problem():
    train, val = prune(*_round(ROWS), PAPER, 1)
    assert sorted(train["sample_id"]) == ["a/1", "c/0"]   # b's only correct sample is truncated
    assert val.empty


def test_up_to_k_per_problem_and_dedupe():
    train, _ = prune(*_round(ROWS), {**PAPER, "per_problem": 3}, 1)
    assert sorted(train["sample_id"]) == ["a/1", "a/2", "c/0"]  # a/3 repeats a/1's text
    train, _ = prune(*_round(ROWS), {**PAPER, "per_problem": 3, "dedupe": False}, 1)
    assert sorted(train["sample_id"]) == ["a/1", "a/2", "a/3", "c/0"]


def test_keeping_truncated_samples_is_a_choice():
    train, _ = prune(*_round(ROWS), {**PAPER, "drop_truncated": False}, 1)
    assert "b/0" in set(train["sample_id"])


def test_no_pruning_keeps_wrong_samples_too():
    train, _ = prune(*_round(ROWS), {**PAPER, "strategy": "none", "per_problem": None, "dedupe": False,
                                     "drop_truncated": False}, 1)
    assert len(train) == len(ROWS)


def test_fixed_size_draw_is_seeded_and_validation_problems_are_held_out():
    rows = [(f"p{j}", 0, f"sol {j}", True, False) for j in range(20)]
    cfg = {**PAPER, "size": 5, "val_size": 3}
    train, val = prune(*_round(rows), cfg, 1)
    again, _ = prune(*_round(rows), cfg, 1)
    other, _ = prune(*_round(rows), {**cfg, "seed": 1}, 1)
    assert len(train) == 5 and len(val) == 3
    assert not set(train["problem_id"]) & set(val["problem_id"])
    assert train["sample_id"].tolist() == again["sample_id"].tolist()
    assert train["sample_id"].tolist() != other["sample_id"].tolist()


def test_a_round_without_survivors_says_which_round_and_why():
    rows = [("a", 0, "x", False, False), ("b", 0, "y", False, False)]
    with pytest.raises(NoSurvivors, match=r"round 4: no sample survived pruning \(of 2: 0 correct"):
        prune(*_round(rows), PAPER, 4)


def test_soft_pruning_keeps_code_that_passes_at_least_one_test():
    rows = [("a", 0, "half right", False, False), ("a", 1, "right", True, False), ("b", 0, "all wrong", False, False),
            ("c", 0, "one test", False, False)]
    train, _ = prune(*_round(rows, tests_passed=[2, 4, 0, 1]), {**PAPER, "strategy": "soft"}, 1)
    assert sorted(train["sample_id"]) == ["a/0", "c/0"]  # the first survivor of a, then c; b passes nothing
    train, _ = prune(*_round(rows, tests_passed=[2, 4, 0, 1]), PAPER, 1)
    assert sorted(train["sample_id"]) == ["a/1"]
