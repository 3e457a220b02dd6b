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


# Variants against the loss of diversity (prune.select, prune.allocation, prune.accumulate)

def _math(rows):
    """rows: (problem_id, completion, correct); sample_index in order within each problem"""
    seen = {}
    out = []
    for p, c, ok in rows:
        i = seen[p] = seen.get(p, -1) + 1
        out.append((p, i, c, ok, False))
    return _round(out)


VARIED = [("a", "1 + 2 = 3. 3 + 4 = 7 #### 7", True),      # a/0
          ("a", "1+2=3, then 3+4=7 #### 7", True),          # a/1: a/0's equations in other words
          ("a", "2 + 1 = 3. 3 + 4 = 7 #### 7", True),       # a/2: one step differs from a/0
          ("a", "4 + 4 = 8. 8 - 1 = 7 #### 7", True),       # a/3: every step differs
          ("a", "wrong #### 9", False),
          ("b", "5 + 5 = 10 #### 10", True), ("b", "bad", False), ("b", "bad", False), ("b", "bad", False),
          ("b", "bad", False)]


def test_distinct_keeps_solutions_with_other_equations_chosen_far_apart():
    cfg = {**PAPER, "per_problem": 2, "select": "distinct"}
    train, _ = prune(*_math(VARIED), cfg, 1)
    # a: a/0 first, then the farthest from it: a/3 (2 steps differ) over a/2 (1 step); a/1 repeats a/0
    assert sorted(train["sample_id"]) == ["a/0", "a/3", "b/0"]
    train, _ = prune(*_math(VARIED), {**cfg, "per_problem": 5}, 1)
    assert sorted(train["sample_id"]) == ["a/0", "a/2", "a/3", "b/0"]   # every distinct one, never a/1
    first, _ = prune(*_math(VARIED), {**PAPER, "per_problem": 2}, 1)
    assert sorted(first["sample_id"]) == ["a/0", "a/1", "b/0"]          # the paper's first-k keeps the repeat


def test_uniform_gives_every_solved_problem_the_same_number():
    train, _ = prune(*_math(VARIED), {**PAPER, "per_problem": 3, "select": "distinct", "allocation": "uniform"}, 1)
    counts = train["problem_id"].value_counts()
    assert counts["a"] == counts["b"] == 3
    assert sorted(train[train.problem_id == "b"]["sample_id"]) == ["b/0"] * 3   # b's one solution, repeated
    assert sorted(train[train.problem_id == "a"]["sample_id"]) == ["a/0", "a/2", "a/3"]


def test_difficulty_gives_more_to_problems_the_model_rarely_solves():
    cfg = {**PAPER, "per_problem": 2, "allocation": "difficulty", "select": "distinct"}
    train, _ = prune(*_math(VARIED), cfg, 1)
    # solve rates: a 4/5, b 1/5; failure rates 0.2 and 0.8 share out 2 x 2 = 4 examples: a 0.8 -> 1, b 3.2 -> 3
    counts = train["problem_id"].value_counts()
    assert counts["a"] == 1 and counts["b"] == 3
    assert len(train) == 4


def test_accumulate_pools_earlier_rounds_newest_first_without_repeats_and_capped():
    earlier = pd.DataFrame({"sample_id": ["old/0", "old/1", "a/1x"], "problem_id": ["old", "old", "c"],
                            "prompt": "Q", "completion": ["x", "y", "only"], "weight": 1.0})
    rows = [("c", 0, "only", True, False), ("d", 0, "new", True, False)]
    cfg = {**PAPER, "accumulate": True, "accumulate_cap": None}
    train, _ = prune(*_round(rows), cfg, 2, earlier)
    assert sorted(train["sample_id"][:2]) == ["c/0", "d/0"]              # this round's first
    assert train["sample_id"][2:].tolist() == ["old/0", "old/1"]         # c's "only" is already there
    capped, _ = prune(*_round(rows), {**cfg, "accumulate_cap": 3}, 2, earlier)
    assert capped["sample_id"].tolist() == train["sample_id"].tolist()[:3]
    alone, _ = prune(*_round(rows), {**cfg, "accumulate": False}, 2, earlier)
    assert len(alone) == 2


def test_the_schema_describes_each_registered_variant():
    import os

    import yaml

    from tpt.prune import ALLOCATIONS, SELECTORS, WEIGHTS

    schema = yaml.safe_load(open(os.path.join(os.path.dirname(__file__), "..", "workflow", "schemas",
                                              "config.schema.yaml")))
    props = schema["properties"]["prune"]["properties"]
    assert all(name in props["select"]["description"] for name in SELECTORS)
    assert all(name in props["allocation"]["description"] for name in ALLOCATIONS)
    assert props["weights"]["enum"] == list(WEIGHTS) and all(w in props["weights"]["description"] for w in WEIGHTS)
