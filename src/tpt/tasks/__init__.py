"""Tasks: where problems come from, how a problem becomes a prompt, and how completions are scored.

A task is a module (or an object made from the config, see from_config) with:
  SCORINGS                                  the scorings it fills (correct_<scoring> columns of VERDICTS), of
                                            tpt.artifacts.SCORINGS; the first is its main one, "strict"
  load(split, options)                      -> DataFrame with the PROBLEMS columns (split: "train" or "test")
  prompt(question)                          -> the user message sent to the model
  score_all(completions, answers, options)  -> one dict of VERDICTS columns per completion (without the ids,
                                               `truncated` and `correct`); options: the config's `verify` section
  CODE (optional, default False)            True if it is scored by running programs in the sandbox (tpt.code):
                                            the workflow then self-tests the judge before the first verify job
  BUILTIN_MODEL (optional, default False)   True if the built-in tiny model (model.base: builtin) can run it
  configure(options) (optional)             -> the task for these options (the config's `task` section merged
                                               with its own `task.<name>` one), when the prompt or the scorer
                                               depend on the config (tpt.tasks.custom)

The registry: the built-in tasks below, plus every task a package registers in the `tpt.tasks` entry-point group
(in its pyproject.toml: [project.entry-points."tpt.tasks"] mytask = "mypackage.mytask"). Adding a task means
writing such a module and registering it; the rules, the schema and the checks do not change.
"""
import importlib
import importlib.metadata
import json
import os

import pandas as pd

BUILTIN = {"arith": "tpt.tasks.arith", "gsm8k": "tpt.tasks.gsm8k", "codecontests": "tpt.tasks.codecontests",
           "mbpp": "tpt.tasks.mbpp", "custom": "tpt.tasks.custom"}
ENTRY_POINTS = "tpt.tasks"  # the entry-point group of task packages


def registry():
    """Every task's name -> where it lives ("module" or "module:attribute"): the built-in ones and those of the
    installed task packages (a package cannot replace a built-in task)."""
    found = {ep.name: ep.value for ep in importlib.metadata.entry_points(group=ENTRY_POINTS)}
    return {**found, **BUILTIN}


def names():
    return sorted(registry())


def get(name):
    """The task module (or object) registered as `name`."""
    where = registry().get(name)
    if where is None:
        raise ValueError(f"unknown task {name!r}: choose one of {names()} (a task package registers more through "
                         f"the {ENTRY_POINTS!r} entry-point group)")
    module, _, attribute = where.partition(":")
    task = importlib.import_module(module)
    return getattr(task, attribute) if attribute else task


def options_of(task_config):
    """The options a task's load() and configure() get: the `task` section with its `task.<name>` section (or, for
    a task package, `task.options`) merged in."""
    name = task_config["name"]
    return {**task_config, **(task_config.get(name) or {}), **(task_config.get("options") or {})}


def from_config(task_config):
    """The task of a config's `task` section, configured by it where the task takes a configuration."""
    task = get(task_config["name"])
    return task.configure(options_of(task_config)) if hasattr(task, "configure") else task


def is_code(task):
    """Whether a task (module or object) is scored by running programs in the sandbox. (Of its verdicts,
    tpt.artifacts.judged says it.)"""
    return bool(getattr(task, "CODE", False))


def runs_on_builtin_model(task):
    """Whether the built-in tiny model (model.base: builtin) can run a task (module or object)."""
    return bool(getattr(task, "BUILTIN_MODEL", False))


def code_tasks():
    """The names of the registered tasks that are code tasks (whatever their configuration)."""
    return [name for name in names() if is_code(get(name))]


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
