import pandas as pd
import pytest

from tpt import gsm8k_scorer, verify
from tpt.tasks import gsm8k


@pytest.mark.parametrize("completion, gold, strict, numeric, flexible, parsed", [
    ("3 + 4 = 7.\n#### 7", "7", True, True, True, True),
    # the paper's strict match: the first #### answer, compared as a string
    ("#### 1,000", "1000", False, True, True, True),
    ("#### $12", "12", False, False, True, False),          # "$" is not in the strict pattern: no #### number
    ("#### 12.", "12", False, True, True, True),            # trailing period: strict string differs
    ("#### 5\nWait, no.\n#### 7", "7", False, False, True, True),  # strict takes the first, flexible the last
    ("The answer is 7.", "7", False, False, True, False),   # no #### at all: unparsed, flexible still finds 7
    ("#### -3", "-3", True, True, True, True),
    ("#### 7.0", "7", False, True, True, True),
    ("no numbers here", "7", False, False, False, False),
])
def test_three_scorings(completion, gold, strict, numeric, flexible, parsed):
    v = gsm8k_scorer.score(completion, gold)
    assert (v["correct_strict"], v["correct_numeric"], v["correct_flexible"], v["parsed"]) == \
        (strict, numeric, flexible, parsed)


def test_extracted_answers_are_kept():
    v = gsm8k_scorer.score("12 + 3 = 15\n#### 15\nso 16", "15")
    assert v["answer_strict"] == "15" and v["answer_flexible"] == "16"


def test_verify_table_sets_correct_by_criterion_and_flags_truncation():
    samples = pd.DataFrame({"sample_id": ["a", "b"], "problem_id": ["p", "p"],
                            "completion": ["#### 1,000", "1000 and more"], "finish_reason": ["stop", "length"]})
    problems = pd.DataFrame({"problem_id": ["p"], "answer": ["1000"]})
    strict = verify.verify(samples, problems, gsm8k, {"criterion": "strict"})
    numeric = verify.verify(samples, problems, gsm8k, {"criterion": "numeric"})
    assert strict["correct"].tolist() == [False, False]
    assert numeric["correct"].tolist() == [True, False]
    assert strict["truncated"].tolist() == [False, True]
    assert strict["tests_passed"].isna().all() and strict["failure"].isna().all()  # code columns stay empty


def test_verify_names_samples_of_unknown_problems():
    samples = pd.DataFrame({"sample_id": ["a"], "problem_id": ["other/1"], "completion": ["#### 1"],
                            "finish_reason": ["stop"]})
    with pytest.raises(ValueError, match="other/1"):
        verify.verify(samples, pd.DataFrame({"problem_id": ["p"], "answer": ["1"]}), gsm8k, {"criterion": "strict"})
