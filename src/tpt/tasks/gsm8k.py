"""GSM8K (Cobbe et al., 2021): grade-school math word problems, with the paper's zero-shot prompt.

Loads `openai/gsm8k` (config `main`) through HF `datasets` on machines with a hub, or the official JSONL files
(`train.jsonl`, `test.jsonl`) or Parquet files with the same fields from a local folder.
"""
from importlib import resources

import pandas as pd

from tpt.tasks import read_split
from tpt.gsm8k_scorer import SCORINGS, score_all  # noqa: F401  (the task's scorer: GSM8K-format answers)

# The paper's prompt (Costello et al., 2025, appendix).
PROMPT = (
    "You are an expert mathematician. You are provided with a math problem. Your task is to solve the problem "
    "step-by-step, clearly showing all relevant calculations and reasoning.\n\n"
    "Problem: {question}\n\n"
    "Requirements:\n"
    "1. Provide a complete and correct solution in a markdown block.\n"
    "2. Explain each step of the solution.\n"
    "3. Give the final numerical answer on a new line in the format: #### [Answer]")


def prompt(question):
    return PROMPT.format(question=question)


def test500_indices():
    """The paper's fixed 500-problem test subset: 0-based indices into the official test file."""
    text = resources.files("tpt.tasks").joinpath("gsm8k_test500_indices.txt").read_text()
    return [int(line) for line in text.split()]


def load(split, options):
    rows, where = read_split(options.get("source") or "openai/gsm8k", split, hub_name="main")
    problems = []
    for i, row in enumerate(rows):
        if not isinstance(row.get("question"), str) or not isinstance(row.get("answer"), str):
            raise ValueError(f"{where}, row {i + 1}: needs string fields 'question' and 'answer' "
                             f"(has {sorted(row)})")
        solution, sep, answer = row["answer"].rpartition("####")
        if not sep or not answer.strip():
            raise ValueError(f"{where}, row {i + 1}: the answer has no '#### <final answer>' line")
        problems.append({"problem_id": f"gsm8k/{split}/{i}", "question": row["question"],
                         "answer": answer.strip(), "solution": row["answer"]})
    df = pd.DataFrame(problems)
    if split == "test" and options.get("test_subset") == "test500":
        if len(df) != 1319:
            raise ValueError(f"task.test_subset=test500 needs the official 1,319-problem test split; {where} has "
                             f"{len(df)} rows: set task.test_subset to 'all'")
        df = df.iloc[test500_indices()].reset_index(drop=True)
    return df
