"""A task from config, with no code (`task.name: custom`, its settings in `task.custom`): questions and answers from
local JSONL/Parquet files or a hub data set, a prompt template, and a scorer chosen by name.

  train, test    a local .jsonl/.parquet file, or a split name of task.source (a hub dataset id, with
                 hub_config, or a folder holding <split>.jsonl / <split>.parquet)
  question, answer, solution   the columns of the question, the gold answer and (optional) a worked solution
  prompt / prompt_file         the template of the user message: {question} and {answer_format} are filled in
  answer_format  what the model is asked for (default: the scorer's usual format)
  scorer         gsm8k | last_number | exact | regex | math_verify (tpt.scorers), code (tests in a column, run by
                 the judge of tpt.code), or "module:function", a user's own scorer: function(completion, row) gets
                 the completion and the data set's row (a dict) and returns correct (bool), or (correct, answer),
                 where answer is the extracted answer (None: no answer found) that majority voting compares

A problem's `answer` (PROBLEMS) is the gold answer string for the answer scorers, the judge's JSON for `code`
(tpt.code.verify.encode_answer) and the whole row as JSON for a user's scorer.
"""
import importlib
import json
import os
import string
import traceback

import pandas as pd

from tpt import gsm8k_scorer, scorers
from tpt.code import verify as code_verify
from tpt.code.judge import extract_program
from tpt.errors import ConfigError
from tpt.tasks import mbpp, read_records, read_split

FIELDS = ("question", "answer_format")  # the fields a prompt template may use
DEFAULT_TEMPLATE = "{question}\n\n{answer_format}"
SCORER_CHOICES = (*scorers.SCORERS, "code", "module:function")  # the answer scorers' registry, the judge, your own

# What a prompt asks for by default where the scorer is not one of the registry's answer scorers
OTHER_FORMATS = {
    "code_stdin": "Give a Python 3 program that reads standard input and writes standard output, in one ```python "
                  "code block.",
    "code_asserts": "Give the function in one ```python code block.",
    "user": "",
}


def configure(options):
    """The task of these options (the `task` section merged with `task.custom`); every check that needs no data
    is done here, so a mistake stops the run at start-up (tpt.config.check), before any job."""
    return CustomTask(options)


class CustomTask:
    BUILTIN_MODEL = True  # your data on the built-in tiny model (config/examples/custom-qa.yaml runs so)

    def __init__(self, options):
        self.options = options
        scorer = options.get("scorer") or "gsm8k"
        self.scorer = scorer
        self.user_scorer = None
        if ":" in scorer:  # a user's own function
            self.user_scorer = load_function(scorer)
        elif scorer not in scorers.SCORERS and scorer != "code":
            raise ConfigError(f"task.custom.scorer={scorer!r} is not a scorer: choose one of "
                              f"{', '.join(SCORER_CHOICES)} (module:function: your own Python function)")
        if scorer == "regex":
            problem = scorers.check_regex(options.get("regex"), options.get("regex_group", 1))
            if problem:
                raise ConfigError(problem)
        code = options.get("code") or {}
        self.code_format = code.get("format", "stdin")
        self.CODE = scorer == "code"
        self.SCORINGS = gsm8k_scorer.SCORINGS if scorer == "gsm8k" else ("strict",)
        self.template = read_template(options)
        answer_format = options.get("answer_format")
        if answer_format is None:
            answer_format = (OTHER_FORMATS["user"] if self.user_scorer else
                             OTHER_FORMATS[f"code_{self.code_format}"] if self.CODE else scorers.SCORERS[scorer][1])
            answer_format = answer_format.replace("{marker}", options.get("answer_marker") or "Answer:")
        self.answer_format = answer_format
        for split in ("train", "test"):
            if not options.get(split):
                raise ConfigError(f"task.custom.{split} is not set: give a local .jsonl/.parquet file, or a split "
                                  "name of task.source (a hub dataset id or a folder)")

    # --- the task interface (see tpt.tasks) ---

    def prompt(self, question):
        return self.template.format(question=question, answer_format=self.answer_format).strip()

    def load(self, split, options=None):
        o = self.options
        rows, where = read_rows(o, split)
        if not rows:
            raise ValueError(f"{where}: no rows")
        need = {"question": o.get("question") or "question"}
        if self.CODE:
            need["code.tests"] = (o.get("code") or {}).get("tests") or "tests"
        elif not self.user_scorer:
            need["answer"] = o.get("answer") or "answer"
        if o.get("solution"):
            need["solution"] = o["solution"]
        for key, column in need.items():
            if column not in rows[0]:
                raise ValueError(f"{where} has no column {column!r} (task.custom.{key}): its columns are "
                                 f"{sorted(rows[0])}")
        problems = []
        for i, row in enumerate(rows):
            for key, column in need.items():
                if row.get(column) is None or (isinstance(row[column], str) and not row[column].strip()):
                    raise ValueError(f"{where}, row {i + 1}: column {column!r} (task.custom.{key}) is empty")
            question = row[need["question"]]
            if not isinstance(question, str):
                raise ValueError(f"{where}, row {i + 1}: the question ({need['question']!r}) is not a string")
            problems.append({"problem_id": f"custom/{split}/{i}", "question": question,
                             "answer": self.answer_of(row, where, i),
                             "solution": str(row[o["solution"]]) if o.get("solution") else None})
        return pd.DataFrame(problems)

    def answer_of(self, row, where, i):
        """The problem's `answer` (PROBLEMS) from its row: see the module's doc."""
        if self.user_scorer:  # the row, and where it is for error messages
            return json.dumps({"row": row, "where": f"row {i + 1} of {where}"}, default=_jsonable)
        if self.CODE:
            code = self.options.get("code") or {}
            tests = parse_tests(row[code.get("tests") or "tests"], self.code_format, where, i)
            return code_verify.encode_answer(tests, code.get("time_limit_s", 2.0),
                                             int(code.get("memory_limit_mb", 256)) << 20, format=self.code_format)
        return str(row[self.options.get("answer") or "answer"]).strip()

    def score_all(self, completions, answers, options):
        if self.CODE:
            return code_verify.score_all(completions, answers, options, program_of=program_of)
        if self.user_scorer:
            return [self.score_by_user(c, a) for c, a in zip(completions, answers)]
        score = scorers.SCORERS[self.scorer][0]
        return [score(c, a, self.options) for c, a in zip(completions, answers)]

    def score_by_user(self, completion, answer):
        problem = json.loads(answer)
        row, where = problem["row"], problem["where"]
        try:
            out = self.user_scorer(completion, row)
        except Exception as e:  # name the row, keep the user's traceback (printed here and chained)
            raise RuntimeError(f"task.custom.scorer={self.scorer!r} raised {type(e).__name__}: {e} on {where} "
                               f"{row!r} (completion {completion[:200]!r}); its traceback:\n"
                               f"{traceback.format_exc()}") from e
        correct, extracted = (out if isinstance(out, tuple) else (out, ""))
        if not (isinstance(correct, (bool, int)) or hasattr(correct, "dtype")):
            raise TypeError(f"task.custom.scorer={self.scorer!r} returned {out!r} on {where}: it must return "
                            "correct (a bool) or (correct, extracted answer or None)")
        return {"parsed": extracted is not None, "correct_strict": bool(correct),
                "answer_strict": None if extracted in (None, "") else str(extracted)}


def read_rows(options, split):
    """The rows of one of tpt's splits (train, test) and where they came from."""
    what = options[split]
    if what.endswith((".jsonl", ".parquet")) and (os.path.exists(what) or not options.get("source")):
        if not os.path.isfile(what):
            raise FileNotFoundError(f"task.custom.{split}={what!r}: no such file")
        return read_records(what), what
    if not options.get("source"):
        raise ValueError(f"task.custom.{split}={what!r} is a split name, but task.source (a hub dataset id or a "
                         "folder) is not set; or give a .jsonl/.parquet file")
    rows, where = read_split(options["source"], what, hub_name=options.get("hub_config"))
    return [dict(r) for r in rows], where


def read_template(options):
    """The prompt template (task.custom.prompt, or the file task.custom.prompt_file); it must use {question} and
    no field but {question} and {answer_format}."""
    if options.get("prompt_file"):
        path, key = options["prompt_file"], "task.custom.prompt_file"
        if not os.path.isfile(path):
            raise ConfigError(f"{key}={path!r}: no such file")
        with open(path) as f:
            template = f.read()
    else:
        template, key = options.get("prompt") or DEFAULT_TEMPLATE, "task.custom.prompt"
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as e:
        raise ConfigError(f"{key}: not a valid template ({e}); write a literal brace as {{{{ or }}}}") from None
    if "question" not in fields:
        raise ConfigError(f"{key} does not contain the {{question}} field: the question would not reach the model "
                          f"(template: {template[:200]!r})")
    unknown = sorted(fields - set(FIELDS))
    if unknown:
        raise ConfigError(f"{key} uses unknown fields {unknown}: a template may use {{question}} and "
                          "{answer_format} (write a literal brace as {{ or }})")
    return template


def load_function(spec):
    """The user's scorer named `module:function` (the module importable from the working directory or the
    environment)."""
    module_name, _, name = spec.partition(":")
    import sys
    if os.getcwd() not in sys.path:  # a scorer file next to the config, as with `python -m`
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"task.custom.scorer={spec!r}: cannot import module {module_name!r} ({e}); the built-in "
                          f"scorers are {', '.join([*scorers.SCORERS, 'code'])}") from e
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ConfigError(f"task.custom.scorer={spec!r}: module {module_name!r} has no function {name!r}")
    return fn


def parse_tests(value, fmt, where, i):
    """The tests of a row: stdin format, a list of {"input", "output"} or [input, output] pairs, or
    {"input": [...], "output": [...]} (CodeContests' layout); asserts format, a list of assert lines (or one string,
    one assert a line). Each becomes (stdin, expected stdout) for the judge."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            if fmt != "asserts":
                raise ValueError(f"{where}, row {i + 1}: the tests are a string that is not JSON") from None
            value = [line for line in value.splitlines() if line.strip()]
    value = _jsonable(value) if hasattr(value, "tolist") else value
    if fmt == "asserts":
        tests = [(str(a), mbpp.PASSED) for a in (value or [])]
    elif isinstance(value, dict) and "input" in value and "output" in value:
        tests = list(zip(_jsonable(value["input"]), _jsonable(value["output"])))
    else:
        tests = []
        for t in value or []:
            t = _jsonable(t) if hasattr(t, "tolist") else t
            if isinstance(t, dict) and "input" in t and "output" in t:
                tests.append((t["input"], t["output"]))
            elif isinstance(t, (list, tuple)) and len(t) == 2:
                tests.append((t[0], t[1]))
            else:
                raise ValueError(f"{where}, row {i + 1}: a test is {t!r}: give {{'input': ..., 'output': ...}} or "
                                 "[input, output]")
    if not tests:
        raise ValueError(f"{where}, row {i + 1}: no tests")
    return [(str(a), str(b)) for a, b in tests]


def program_of(completion, spec):
    """The program the judge runs: asserts run like MBPP's (the program, then each assert read from stdin, in
    tpt.tasks.mbpp's harness); stdin/stdout tests run the completion's first code block."""
    if spec.get("format") == "asserts":
        return mbpp.program_of(completion, spec)
    return extract_program(completion)


def _jsonable(value):
    """numpy arrays and scalars (Parquet rows) as plain Python values."""
    return value.tolist() if hasattr(value, "tolist") else str(value)
