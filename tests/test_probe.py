"""think.auto_temperature (tpt.probe): B-STaR's balance score on small hand-made probes, the choice, the probe's
requests (the config check: tests/test_config.py)."""
import pandas as pd
import pytest

from tpt import probe, sampling


def _probe(rows):
    """SAMPLES-like and VERDICTS-like frames from (temperature, problem, completion, correct) rows."""
    samples = pd.DataFrame([{"sample_id": f"s{i}", "problem_id": p, "temperature": t, "completion": c}
                            for i, (t, p, c, _) in enumerate(rows)])
    verdicts = pd.DataFrame([{"sample_id": f"s{i}", "correct": ok} for i, (_, _, _, ok) in enumerate(rows)])
    return samples, verdicts


def test_the_balance_score_counts_distinct_correct_solutions_up_to_n_star():
    # 0.5: p1 solved 3 times by one equation (reworded), p2 never: min(1/2, 1) and 0 -> 0.25
    # 1.0: p1 by two equations and a wrong one, p2 by one: min(2/2, 1) and min(1/2, 1) -> 0.75
    samples, verdicts = _probe([
        (0.5, "p1", "3 + 4 = 7\n#### 7", True), (0.5, "p1", "So 3+4 = 7.\n#### 7", True),
        (0.5, "p1", "3 + 4 = 7 #### 7", True), (0.5, "p2", "2 * 5 = 11\n#### 11", False),
        (1.0, "p1", "3 + 4 = 7\n#### 7", True), (1.0, "p1", "4 + 3 = 7\n#### 7", True),
        (1.0, "p1", "3 + 3 = 6\n#### 6", False), (1.0, "p2", "2 * 5 = 10\n#### 10", True)])
    table = probe.balance(samples, verdicts, n_star=2, code=False)
    assert table["temperature"].tolist() == [0.5, 1.0]
    assert table["score"].tolist() == pytest.approx([0.25, 0.75])
    assert table["distinct_correct"].tolist() == pytest.approx([0.5, 1.5])
    assert table["correct"].tolist() == pytest.approx([0.75, 0.75])
    assert table["problems"].tolist() == [2, 2] and table["samples"].tolist() == [4, 4]
    # n_star 1: one distinct correct solution counts fully, so 0.5 and 1.0
    assert probe.balance(samples, verdicts, n_star=1, code=False)["score"].tolist() == pytest.approx([0.5, 1.0])
    chosen = probe.choose(table, round_=3)
    assert chosen["chosen"].tolist() == [False, True] and chosen["round"].tolist() == [3, 3]
    assert probe.chosen(chosen) == 1.0


def test_a_tie_goes_to_the_temperature_listed_first():
    table = pd.DataFrame({"temperature": [1.2, 0.6, 0.9], "score": [0.5, 0.7, 0.7]})
    assert probe.chosen(probe.choose(table, round_=1)) == 0.6
    with pytest.raises(ValueError, match="exactly one"):
        probe.chosen(table.assign(chosen=[False, True, True]))


def test_code_solutions_are_distinct_by_their_normalised_program():
    a, b = "```python\nx = int(input())\nprint(x + 1)\n```", "```python\ny = int(input())  # read\nprint(y + 1)\n```"
    c = "```python\nprint(int(input()) + 1)\n```"
    samples, verdicts = _probe([(0.8, "p1", a, True), (0.8, "p1", b, True), (0.8, "p1", c, True)])
    assert probe.balance(samples, verdicts, n_star=4, code=True)["distinct_correct"].tolist() == [2]


def test_the_probe_samples_n_per_problem_at_each_temperature():
    problems = pd.DataFrame({"problem_id": [f"p{i}" for i in range(5)], "question": [f"q{i}" for i in range(5)]})
    probed = probe.problems(problems, 3)
    assert probed["problem_id"].tolist() == ["p0", "p1", "p2"]
    reqs = probe.requests(probed, lambda q: q, round_=2, n=2, grid=[0.6, 1.0], seed=7)
    assert len(reqs) == 3 * 2 * 2 and set(reqs["phase"]) == {"probe"}
    p0 = reqs[reqs["problem_id"] == "p0"]
    assert p0["sample_index"].tolist() == [0, 1, 2, 3] and p0["temperature"].tolist() == [0.6, 0.6, 1.0, 1.0]
    assert reqs["sample_id"].is_unique and reqs["seed"].is_unique
    think = sampling.make_requests(probed, lambda q: q, "think", 2, 2, 7)  # think's own draws are other ones
    assert not set(think["seed"]) & set(reqs["seed"])

