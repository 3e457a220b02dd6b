"""Diversity figures against a direct computation on small rounds."""
import pandas as pd
import pytest

from tpt import diversity, metrics, report


def test_math_signature_is_the_sequence_of_equations():
    a = "Ana finds 3 more: 5 + 3 = 8.\nShe buys 2 * 4 = 8 more: 8 + 8 = 16.\n#### 16"
    b = "Ana gets three more, 5+3=8. Bags: 2*4=8, so 8 + 8 = 16.\n#### 16"  # other words, same arithmetic
    c = "Ana finds 3 more: 5 + 3 = 8.\nThen 8 * 2 = 16.\n#### 16"           # same answer, other steps
    assert diversity.math_signature(a) == ("5+3=8", "2*4=8", "8+8=16")
    assert diversity.math_signature(a) == diversity.math_signature(b)
    assert diversity.math_signature(a) != diversity.math_signature(c)
    assert diversity.math_signature("It is 1,200 then 7.\n#### 7") == ("1200", "7", "7")  # no equation: the numbers


def test_code_signature_ignores_names_comments_and_layout():
    a = "```python\nn = int(input())  # read\nprint(n * 2)\n```"
    b = "```python\n\nvalue = int(input())\nprint(value * 2)\n```"
    c = "```python\nn = int(input())\nprint(n + n)\n```"
    assert diversity.code_signature(a) == diversity.code_signature(b)
    assert diversity.code_signature(a) != diversity.code_signature(c)
    assert "int" in diversity.code_signature(a) and "n" not in diversity.code_signature(a)
    assert diversity.code_signature("```python\nprint('unclosed\n```") == ("print('unclosed",)  # no tokens: words


def test_edit_distance():
    assert diversity.edit_distance(("a", "b", "c"), ("a", "c")) == 1
    assert diversity.edit_distance((), ("x", "y")) == 2
    assert diversity.edit_distance(("a", "b"), ("b", "a")) == 2


def _math_round(rows):
    """rows: (problem_id, completion, answer, correct)"""
    samples = pd.DataFrame([{"sample_id": f"{p}/{i}", "problem_id": p, "sample_index": i, "completion": c,
                             "completion_tokens": 10 * (i + 1)} for i, (p, c, _, _) in enumerate(rows)])
    verdicts = pd.DataFrame([{"sample_id": f"{p}/{i}", "problem_id": p, "correct": ok, "answer_strict": a,
                              "failure": None} for i, (p, _, a, ok) in enumerate(rows)])
    return samples, verdicts


ROUND = [("a", "1 + 1 = 2 #### 2", "2", True), ("a", "1+1=2 #### 2", "2", True), ("a", "2 * 1 = 2 #### 2", "2", True),
         ("a", "1 + 2 = 3 #### 3", "3", False), ("b", "no idea", None, False), ("b", "4 - 1 = 3 #### 3", "3", False),
         ("c", "5 + 5 = 10 #### 10", "10", True), ("c", "6 + 6 = 12 #### 12", "12", False)]


def test_coverage_distinct_correct_and_distinct_answers_per_problem():
    samples, verdicts = _math_round(ROUND)
    got = {r["metric"]: r for r in diversity.diversity_rows(samples, verdicts, 2)}
    # by hand: a is solved with 2 distinct correct solutions and answers {2, 3}; b unsolved, answers {3};
    # c solved once, answers {10, 12}
    assert got["coverage"]["value"] == pytest.approx(2 / 3)
    assert got["distinct_correct"]["value"] == pytest.approx((2 + 0 + 1) / 3)
    assert got["distinct_answers"]["value"] == pytest.approx((2 + 1 + 2) / 3)
    assert got["distinct_correct"]["stderr"] == pytest.approx(pd.Series([2, 0, 1]).sem())
    assert all(r["round"] == 2 and r["k"] is None for r in got.values())


def test_code_rounds_have_no_distinct_answers():
    samples, verdicts = _math_round([("a", "```python\nx=1\nprint(x)\n```", None, True),
                                     ("a", "```python\ny = 1\nprint(y)\n```", None, True)])
    verdicts["failure"] = ""
    got = {r["metric"]: r["value"] for r in diversity.diversity_rows(samples, verdicts, 1)}
    assert got == {"coverage": 1.0, "distinct_correct": 1.0}


def test_sft_rows_count_examples_problems_distinct_and_difficulty():
    samples, verdicts = _math_round(ROUND)
    # the SFT set: a's two equal solutions and its other one, c's one, and one example of an earlier round
    sft = pd.DataFrame({"sample_id": ["a/0", "a/1", "a/2", "c/6", "old/0"], "problem_id": ["a", "a", "a", "c", "old"],
                        "prompt": "q", "completion": [ROUND[0][1], ROUND[1][1], ROUND[2][1], ROUND[6][1], "9 = 9"]})
    got = {r["metric"]: r["value"] for r in diversity.sft_rows(sft, samples, verdicts, 1)}
    assert got["sft_examples"] == 5 and got["sft_problems"] == 3
    assert got["sft_distinct"] == 4                              # a/0 and a/1 are one solution
    assert got["sft_tokens"] == 10 + 20 + 30 + 70                # the earlier round's example has no count here
    # solve rates in think: a 3/4 (bin 50-75), c 1/2 (bin 25-50)
    assert got["sft_share_solve_rate_50_75"] == pytest.approx(3 / 5)
    assert got["sft_share_solve_rate_25_50"] == pytest.approx(1 / 5)
    assert got["sft_share_solve_rate_0_25"] == got["sft_share_solve_rate_75_100"] == 0
    assert got["sft_share_earlier_rounds"] == pytest.approx(1 / 5)


def test_eval_metrics_carry_diversity_and_the_report_tabulates_it():
    rows = [(p, f"{i} + {j} = {i + j} #### {i + j}", str(i + j), (i + j) % 2 == 0) for p, i in (("a", 1), ("b", 2))
            for j in range(4)]
    samples, verdicts = _math_round(rows)
    for s in ("strict", "numeric", "flexible"):
        verdicts[f"correct_{s}"] = verdicts["correct"]
    verdicts["parsed"], verdicts["truncated"], verdicts["answer_strict"] = True, False, verdicts["answer_strict"]
    samples["sample_index"] = samples.groupby("problem_id").cumcount()
    m = metrics.eval_metrics(samples, verdicts, 0)
    value = dict(zip(m.loc[m["k"].isna(), "metric"], m.loc[m["k"].isna(), "value"]))
    assert value["coverage"] == 1.0 and value["distinct_correct"] == 2.0 and value["distinct_answers"] == 4.0
    think = pd.DataFrame(metrics.think_metrics(samples, verdicts, samples[["sample_id", "problem_id", "completion"]]
                                                 .assign(prompt="q"), 1))
    table = report.diversity(pd.concat([m, m.assign(round=1)]), think)
    assert table["round"].tolist() == [0, 1]
    assert pd.isna(table.loc[0, "think_coverage"]) and table.loc[1, "sft_examples"] == 8
    assert table.loc[1, "think_pass@1_strict"] == pytest.approx(0.5)
    assert "| 1 | 100.0 | 2.00 | 4.00 | 50.0 |" in report.diversity_markdown(table)
