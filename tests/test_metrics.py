from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from tpt import metrics


@pytest.mark.parametrize("n, c", [(5, 0), (5, 2), (6, 6), (8, 3)])
def test_pass_at_k_equals_the_share_of_k_subsets_with_a_correct_sample(n, c):
    outcomes = [True] * c + [False] * (n - c)
    for k in range(1, n + 1):
        subsets = list(combinations(outcomes, k))
        direct = sum(any(s) for s in subsets) / len(subsets)
        assert metrics.pass_at_k(n, c, k) == pytest.approx(direct)


def _round(correct_by_problem):
    rows, verdicts = [], []
    for p, outcomes in correct_by_problem.items():
        for i, ok in enumerate(outcomes):
            sid = f"{p}/{i}"
            rows.append({"sample_id": sid, "problem_id": p, "sample_index": i, "completion_tokens": 10 + i,
                         "completion": f"{i} + 1 = {i + 1}"})
            verdicts.append({"sample_id": sid, "problem_id": p, "parsed": i != 0, "truncated": False, "correct": ok,
                             "answer_strict": str(int(ok)),
                             "correct_strict": ok, "correct_numeric": ok, "correct_flexible": True, "failure": None})
    return pd.DataFrame(rows), pd.DataFrame(verdicts)


def test_eval_metrics_pass1_is_mean_accuracy_with_stderr_over_problems():
    samples, verdicts = _round({"a": [True, True, False, False], "b": [False, False, False, True]})
    m = metrics.eval_metrics(samples, verdicts, 3)
    p1 = m[(m.metric == "pass@k_strict") & (m.k == 1)].iloc[0]
    assert p1["value"] == pytest.approx(0.375)
    assert p1["stderr"] == pytest.approx(np.std([0.5, 0.25], ddof=1) / np.sqrt(2))
    assert m[(m.metric == "pass@k_flexible") & (m.k == 4)]["value"].item() == 1.0
    assert m[m.metric == "no_answer_rate"]["value"].item() == pytest.approx(0.25)
    assert sorted(m[m.metric == "pass@k_strict"]["k"]) == [1, 2, 3, 4]
    assert (m["round"] == 3).all()


def test_eval_metrics_refuses_uneven_sample_counts():
    samples, verdicts = _round({"a": [True, False], "b": [True]})
    with pytest.raises(ValueError, match="different numbers"):
        metrics.eval_metrics(samples, verdicts, 0)


def test_majority_vote_over_disjoint_groups():
    answers, correct = ["5", "5", "3", None, "3", "3"], [True, True, False, False, False, False]
    assert metrics.majority_vote(answers, correct, 1) == pytest.approx(2 / 6)
    assert metrics.majority_vote(answers, correct, 2) == pytest.approx(1 / 3)  # [5,5] wins, [3,-], [3,3] lose
    assert metrics.majority_vote(answers, correct, 3) == 1 / 2                  # [5,5,3] wins, [-,3,3] loses
    assert metrics.majority_vote(["3", "5"], [False, True], 2) == 0.0           # a tie goes to the earliest
    assert metrics.majority_vote([None, None], [False, False], 2) == 0.0


def test_correct_at_1_equals_strict_pass_at_1():
    samples, verdicts = _round({"a": [True, True, False, False], "b": [False, False, False, True]})
    verdicts["answer_strict"] = ["1", "1", "2", "2", "9", "9", "8", "7"]
    m = metrics.eval_metrics(samples, verdicts, 0)
    value = lambda name, k: m[(m.metric == name) & (m.k == k)]["value"].item()  # noqa: E731
    assert value("correct@k_strict", 1) == pytest.approx(value("pass@k_strict", 1))
    assert value("correct@k_strict", 4) == pytest.approx(0.5)  # a: "1" ties "2" -> earliest "1" wins; b: "9" wins


def test_code_verdicts_give_pass_at_k_and_failure_shares_without_majority_vote():
    samples, verdicts = _round({"a": [True, False], "b": [False, False]})
    verdicts["correct_numeric"] = verdicts["correct_flexible"] = verdicts["answer_strict"] = None
    verdicts["failure"] = ["", "wrong_answer", "time_limit", "wrong_answer"]
    m = metrics.eval_metrics(samples, verdicts, 1)
    assert set(m["metric"]) >= {"pass@k_strict", "wrong_answer_rate", "time_limit_rate"}
    assert not m["metric"].str.contains("numeric|flexible|correct@k").any()
    assert m[(m.metric == "pass@k_strict") & (m.k == 2)]["value"].item() == 0.5
    assert m[m.metric == "wrong_answer_rate"]["value"].item() == 0.5
