"""GSM8K (Cobbe et al., 2021): grade-school math word problems, with the paper's zero-shot prompt.

Loads `openai/gsm8k` (config `main`) through HF `datasets` on machines with a hub, or the official JSONL files
(`train.jsonl`, `test.jsonl`) or Parquet files with the same fields from a local folder.
"""
import json
import os
from importlib import resources

import pandas as pd

from tpt.verify import score  # noqa: F401  (the task's scorer: GSM8K-format answers)

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


def _read_local(folder, split):
    for name in (f"{split}.jsonl", f"{split}.parquet"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            break
    else:
        raise FileNotFoundError(f"task.source={folder!r} has neither {split}.jsonl nor {split}.parquet: point "
                                "task.source at a folder with GSM8K's official files, or at a hub dataset id")
    if path.endswith(".parquet"):
        return pd.read_parquet(path).to_dict("records"), path
    rows = []
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}, line {line_no}: not valid JSON ({e})") from None
    return rows, path


def load(split, options):
    source = options.get("source") or "openai/gsm8k"
    if os.path.isdir(source):
        rows, where = _read_local(source, split)
    elif source.startswith(("/", "./", "../", "~")):
        raise FileNotFoundError(f"task.source={source!r}: no such folder")
    else:
        from datasets import load_dataset
        rows, where = list(load_dataset(source, "main", split=split)), f"{source} ({split})"
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
