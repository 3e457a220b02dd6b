"""Tasks: where problems come from, how a problem becomes a prompt, and how a completion is scored.

A task is a module with three functions:
  load(split, options)      -> DataFrame with the PROBLEMS columns (split: "train" or "test")
  prompt(question)          -> the user message sent to the model
  score(completion, answer) -> dict of verdict columns (see artifacts.VERDICTS), without ids or `correct`
Adding a task means writing such a module and naming it in TASKS; the rules do not change.
"""
import importlib

TASKS = {"arith": "tpt.tasks.arith", "gsm8k": "tpt.tasks.gsm8k"}


def get(name):
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}: choose one of {sorted(TASKS)}")
    return importlib.import_module(TASKS[name])
