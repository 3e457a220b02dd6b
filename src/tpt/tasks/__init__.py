"""Tasks: where problems come from, how a problem becomes a prompt, and how completions are scored.

A task is a module with:
  SCORINGS                                  the scorings it fills (correct_<scoring> columns of VERDICTS); the
                                            first is its main one, "strict"
  load(split, options)                      -> DataFrame with the PROBLEMS columns (split: "train" or "test")
  prompt(question)                          -> the user message sent to the model
  score_all(completions, answers, options)  -> one dict of VERDICTS columns per completion (without the ids,
                                               `truncated` and `correct`); options: the config's `verify` section
Adding a task means writing such a module and naming it in TASKS; the rules do not change.
"""
import importlib
import json
import os

import pandas as pd

TASKS = {"arith": "tpt.tasks.arith", "gsm8k": "tpt.tasks.gsm8k", "codecontests": "tpt.tasks.codecontests",
         "mbpp": "tpt.tasks.mbpp"}
CODE_TASKS = ("codecontests", "mbpp")  # scored by running programs in the sandbox (tpt.code)


def get(name):
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}: choose one of {sorted(TASKS)}")
    return importlib.import_module(TASKS[name])


def read_records(path):
    """The rows of a local .jsonl or .parquet file as dicts; a bad line is an error naming it."""
    if path.endswith(".parquet"):
        return pd.read_parquet(path).to_dict("records")
    rows = []
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}, line {line_no}: not valid JSON ({e})") from None
    return rows


def read_split(source, split, hub_name=None):
    """The rows of one split, and where they came from (for error messages). source is
      - a local folder holding <split>.jsonl or <split>.parquet,
      - a local .jsonl/.parquet file (used as it is, whatever the split: for small samples and tests), or
      - a hub dataset id, loaded with HF `datasets` (hub_name: its config name, e.g. GSM8K's "main")."""
    if os.path.isdir(source):
        for name in (f"{split}.jsonl", f"{split}.parquet"):
            path = os.path.join(source, name)
            if os.path.exists(path):
                return read_records(path), path
        raise FileNotFoundError(f"task.source={source!r} has neither {split}.jsonl nor {split}.parquet: point "
                                "task.source at a folder with the data set's files, or at a hub dataset id")
    if os.path.isfile(source) and source.endswith((".jsonl", ".parquet")):
        return read_records(source), source
    if source.startswith(("/", "./", "../", "~")) or os.path.exists(source):
        raise FileNotFoundError(f"task.source={source!r}: no such folder, nor a .jsonl or .parquet file")
    from datasets import load_dataset
    return list(load_dataset(source, hub_name, split=split)), f"{source} ({split})"
