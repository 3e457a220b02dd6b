"""A task from config (tpt.tasks.custom): each built-in scorer, a user's scorer, the judge on tests in a column,
task packages through entry points, the errors a user can run into, and the README's example end to end."""
import json
import os
import sys

import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from helpers import REPO, _merge, snakemake
from tpt import artifacts, gsm8k_scorer, metrics, scorers, tasks, verify
from tpt.code.sandbox import available_backends
from tpt.config import ConfigError, check

SCHEMA = os.path.join(REPO, "workflow", "schemas", "config.schema.yaml")
EXAMPLE = os.path.join(REPO, "config", "examples", "custom-qa.yaml")


def _config(*layers):
    """config.yaml with the layers over it, validated (defaults filled) like the workflow does."""
    with open(os.path.join(REPO, "config.yaml")) as f:
        config = yaml.safe_load(f)
    for layer in layers:
        config = _merge(config, layer)
    validate(config, SCHEMA)
    return config


def _task(tmp_path, rows=None, **custom):
    """A configured custom task over a train/test JSONL of `rows` in tmp_path."""
    rows = rows or [{"q": "What is 1 + 1?", "a": "2"}, {"q": "Half of one?", "a": "\\frac{1}{2}"}]
    for split in ("train", "test"):
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = _config({"task": {"name": "custom", "custom": {
        "train": str(tmp_path / "train.jsonl"), "test": str(tmp_path / "test.jsonl"), "question": "q",
        "answer": "a", **custom}}, "model": {"base": "org/model"}})
    check(config)
    return tasks.from_config(config["task"]), config


def _score(task, completions, golds, verify_options=None):
    return task.score_all(completions, golds, verify_options or {"criterion": "strict"})


# --- the built-in scorers ---

def test_gsm8k_scorer_fills_its_three_scorings():
    out = scorers.gsm8k("so 1,000 in all\n#### 1,000", "1000", {})
    assert out["parsed"] and not out["correct_strict"] and out["correct_numeric"] and out["correct_flexible"]
    assert scorers.gsm8k("#### 7", "7", {})["correct_strict"]
    assert not scorers.gsm8k("7 apples", "7", {})["parsed"]


def test_last_number_scorer():
    assert scorers.last_number("3 + 4 = 7. So 7.", "7", {}) == {"parsed": True, "answer_strict": "7.",
                                                                 "correct_strict": True}
    assert not scorers.last_number("3 + 4 = 8", "7", {})["correct_strict"]
    assert scorers.last_number("It costs $1,250.", "1250", {})["correct_strict"]
    assert scorers.last_number("no number", "7", {}) == {"parsed": False, "answer_strict": None,
                                                         "correct_strict": False}


def test_exact_scorer_and_its_normalisation():
    opts = {"answer_marker": "Answer:", "normalize": {}}
    assert scorers.exact("blue is wrong\nAnswer:  Paris \nthanks", "paris", opts)["correct_strict"]
    assert scorers.exact("Answer: Paris", "paris", opts)["answer_strict"] == "Paris"
    assert not scorers.exact("Answer: Paris", "paris", {**opts, "normalize": {"ignore_case": False}})[
        "correct_strict"]
    assert not scorers.exact("Answer: Paris.", "Paris", opts)["correct_strict"]  # punctuation counts by default
    assert scorers.exact("Answer: Paris.", "Paris", {**opts, "normalize": {"ignore_punctuation": True}})[
        "correct_strict"]
    assert scorers.exact("Answer: New   York", "new york", opts)["correct_strict"]
    assert not scorers.exact("Paris", "Paris", opts)["parsed"]  # no marker: no answer
    assert scorers.exact("thinking...\n\nParis\n", "Paris", {"answer_marker": None})["correct_strict"]


def test_regex_scorer_takes_the_last_match_and_the_group():
    opts = {"regex": r"The answer is \(?([A-E])\)?", "regex_group": 1, "normalize": {}}
    assert scorers.regex("The answer is (B)... no wait, The answer is C", "c", opts) == {
        "parsed": True, "answer_strict": "C", "correct_strict": True}
    assert not scorers.regex("The answer is B", "C", opts)["correct_strict"]
    assert not scorers.regex("I do not know", "C", opts)["parsed"]
    assert "capture group" in scorers.check_regex("Answer: .+", 1)
    assert "not a valid regular expression" in scorers.check_regex("Answer: (", 1)
    assert scorers.check_regex("Answer: (.+)", 1) is None


@pytest.mark.parametrize("gold, completion, correct", [
    ("0.5", "so the answer is $\\frac{1}{2}$", True),
    ("\\frac{1}{2}", "Therefore the answer is \\boxed{0.5}.", True),
    ("3", "Solving, $\\boxed{x=3}$", True),
    ("\\frac{1}{2}", "$\\boxed{\\dfrac12}$", True),
    ("The last step gives $\\boxed{\\sqrt{2}}$.", "so $\\boxed{\\sqrt 2}$", True),  # gold: a whole solution
    ("3", "\\boxed{4}", False),
    ("\\frac{1}{2}", "\\boxed{\\frac{1}{3}}", False),
    ("x^2", "\\boxed{x^3}", False),
])
def test_math_verify_accepts_equivalent_forms_and_rejects_wrong_ones(gold, completion, correct):
    out = scorers.math_verify(completion, gold, {})
    assert out["parsed"] and out["correct_strict"] is correct and out["answer_strict"]


@pytest.mark.parametrize("completion", ["\\boxed{\\frac{", "I cannot solve this.", "", "\\boxed{}"])
def test_math_verify_a_malformed_answer_is_wrong_not_a_crash(completion):
    out = scorers.math_verify(completion, "3", {})
    assert out["correct_strict"] is False and out["parsed"] is False and out["answer_strict"] is None


def test_math_verify_works_off_the_main_thread():
    # math-verify's timeouts use signal.alarm, which fails off the main thread: there they are switched off
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(1) as pool:
        out = pool.submit(scorers.math_verify, "\\boxed{0.5}", "\\frac{1}{2}", {}).result()
    assert out["correct_strict"]


# --- the task: load, prompt, score ---

def test_custom_task_loads_prompts_and_scores_with_math_verify(tmp_path):
    task, config = _task(tmp_path, scorer="math_verify", solution=None,
                         prompt="Q: {question}\n{answer_format}")
    problems = task.load("test")
    assert problems["problem_id"].tolist() == ["custom/test/0", "custom/test/1"]
    assert problems["answer"].tolist() == ["2", "\\frac{1}{2}"] and problems["solution"].isna().all()
    assert task.prompt("Half of one?") == "Q: Half of one?\nPut the final answer in \\boxed{}."
    assert task.SCORINGS == ("strict",) and not tasks.is_code(task)
    samples = pd.DataFrame({"sample_id": [f"s{i}" for i in range(4)],
                            "problem_id": ["custom/test/0", "custom/test/0", "custom/test/1", "custom/test/1"],
                            "completion": ["\\boxed{2}", "\\boxed{3}", "it is $0.5$", "\\boxed{"],
                            "finish_reason": ["stop"] * 4})
    v = verify.verify(samples, problems, task, config["verify"])
    assert v["correct"].tolist() == [True, False, True, False]
    assert v["parsed"].tolist() == [True, True, True, False]
    assert v["correct_numeric"].isna().all() and v["tests_passed"].isna().all()


def test_gsm8k_scorer_task_keeps_the_three_scorings_and_metrics_fill(tmp_path):
    rows = [{"q": f"What is {i} + {i}?", "a": str(2 * i)} for i in range(3)]
    task, config = _task(tmp_path, rows, scorer="gsm8k")
    assert task.SCORINGS == gsm8k_scorer.SCORINGS == artifacts.SCORINGS
    assert "#### [Answer]" in task.prompt("x")
    problems = task.load("test")
    completions = {0: ["#### 0", "0", "#### 1"], 1: ["#### 2", "#### 2", "#### 3"], 2: ["#### 5", "#### 4", "4"]}
    samples = pd.DataFrame([{"sample_id": f"eval/r0/custom/test/{p}/{i}", "problem_id": f"custom/test/{p}",
                             "sample_index": i, "completion": c, "finish_reason": "stop", "completion_tokens": 3}
                            for p, cs in completions.items() for i, c in enumerate(cs)])
    v = verify.verify(samples, problems, task, config["verify"])
    m = metrics.eval_metrics(samples, v, 0).set_index(["metric", "k"])["value"]
    assert m[("pass@k_strict", 1)] == pytest.approx((1 + 2 + 1) / 9)
    assert m[("pass@k_flexible", 1)] == pytest.approx((2 + 2 + 2) / 9)
    assert m[("correct@k_strict", 3)] == pytest.approx(2 / 3)  # votes: 0 and 1 tie (the earliest, 0, wins), 2, then 5 and 4 tie (5 wins)


def test_prompt_template_from_a_file(tmp_path):
    (tmp_path / "prompt.txt").write_text("Solve: {question}\nEnd with {answer_format}")
    task, _ = _task(tmp_path, scorer="exact", prompt_file=str(tmp_path / "prompt.txt"), answer_format="Answer: X")
    assert task.prompt("1+1") == "Solve: 1+1\nEnd with Answer: X"


# --- a user's scorer by module:function ---

SCORER_MODULE = '''
def score(completion, row):
    """Right if the completion names the row's capital; the extracted answer is the last word."""
    words = completion.split()
    return row["capital"].lower() in completion.lower(), (words[-1] if words else None)

def boom(completion, row):
    return {}["no such key"]
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_scorers.py").write_text(SCORER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_scorers"
    sys.modules.pop("my_scorers", None)


def test_user_scorer_gets_the_completion_and_the_row(tmp_path, user_module):
    rows = [{"q": "Capital of France?", "capital": "Paris", "country": "France"}]
    task, config = _task(tmp_path, rows, scorer=f"{user_module}:score")  # no answer column needed
    problems = task.load("train")
    samples = pd.DataFrame({"sample_id": ["a", "b", "c"], "problem_id": ["custom/train/0"] * 3,
                            "completion": ["It is Paris", "Lyon", ""], "finish_reason": ["stop"] * 3})
    v = verify.verify(samples, problems, task, config["verify"])
    assert v["correct"].tolist() == [True, False, False]
    assert v["answer_strict"].tolist() == ["Paris", "Lyon", None]
    assert v["parsed"].tolist() == [True, True, False]


def test_user_scorer_that_raises_names_the_row_and_keeps_the_traceback(tmp_path, user_module):
    task, config = _task(tmp_path, [{"q": "x", "a": "1"}, {"q": "y", "a": "2"}], scorer=f"{user_module}:boom")
    problems = task.load("test")
    samples = pd.DataFrame({"sample_id": ["s"], "problem_id": ["custom/test/1"], "completion": ["2"],
                            "finish_reason": ["stop"]})
    with pytest.raises(RuntimeError, match=r"raised KeyError.* on row 2 of .*test\.jsonl") as err:
        verify.verify(samples, problems, task, config["verify"])
    assert "my_scorers.py" in str(err.value) and 'return {}["no such key"]' in str(err.value)  # the traceback
    assert isinstance(err.value.__cause__, KeyError)


def test_a_user_scorer_without_extracted_answers_gets_no_majority_vote(tmp_path):
    samples = pd.DataFrame({"sample_id": ["a", "b"], "problem_id": ["p", "p"], "sample_index": [0, 1],
                            "completion": ["yes", "no"], "completion_tokens": [1, 1]})
    verdicts = pd.DataFrame({"sample_id": ["a", "b"], "problem_id": ["p", "p"], "parsed": [True, True],
                             "truncated": [False, False], "correct": [True, False], "correct_strict": [True, False],
                             "answer_strict": [None, None], "failure": [None, None]})
    for column in ("correct_numeric", "correct_flexible"):
        verdicts[column] = None
    m = metrics.eval_metrics(samples, verdicts, 0)
    assert (m["metric"] == "pass@k_strict").sum() == 2 and not (m["metric"] == "correct@k_strict").any()


# --- the judge on tests in a column ---

@pytest.mark.skipif(not available_backends(), reason="no sandbox backend works here")
@pytest.mark.parametrize("fmt", ["stdin", "asserts"])
def test_code_scorer_runs_the_tests_of_a_column(tmp_path, fmt):
    if fmt == "stdin":
        rows = [{"q": "Print the sum of two numbers.", "tests": [{"input": "1 2\n", "output": "3\n"},
                                                                  {"input": "5 5\n", "output": "10\n"}]}]
        right, wrong = "```python\na, b = map(int, input().split())\nprint(a + b)\n```", \
            "```python\nprint(3)\n```"
    else:
        rows = [{"q": "Write add(a, b).", "tests": ["assert add(1, 2) == 3", "assert add(5, 5) == 10"]}]
        right, wrong = "```python\ndef add(a, b):\n    return a + b\n```", "```python\ndef add(a, b):\n    return 3\n```"
    task, config = _task(tmp_path, rows, scorer="code", code={"format": fmt})
    assert tasks.is_code(task) and "code block" in task.prompt("x")
    problems = task.load("test")
    samples = pd.DataFrame({"sample_id": ["a", "b", "c"], "problem_id": ["custom/test/0"] * 3,
                            "completion": [right, wrong, "no code"], "finish_reason": ["stop"] * 3})
    v = verify.verify(samples, problems, task, {**config["verify"], "workers": 1})
    assert v["correct"].tolist() == [True, False, False]
    assert v["failure"].tolist() == ["", "wrong_answer", "no_code"]
    assert v["tests_total"].iloc[0] == 2


# --- task packages: the tpt.tasks entry-point group ---

PACKAGE = '''
"""A third-party task: one fixed problem."""
import pandas as pd
from tpt.gsm8k_scorer import SCORINGS, score_all
CODE = False

def load(split, options):
    return pd.DataFrame({"problem_id": [f"plugged/{split}/0"], "question": [options.get("greeting", "hi")],
                         "answer": ["1"], "solution": [None]})

def prompt(question):
    return "Plugged: " + question
'''


def _install_plugged(tmp_path, monkeypatch):
    """PACKAGE as a real installed distribution (a .dist-info with entry_points.txt) on sys.path: importlib.metadata
    finds it."""
    (tmp_path / "plugged_task.py").write_text(PACKAGE)
    info = tmp_path / "plugged_task-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plugged-task\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[tpt.tasks]\nplugged = plugged_task\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_a_task_package_is_found_through_its_entry_point(tmp_path, monkeypatch):
    _install_plugged(tmp_path, monkeypatch)
    assert "plugged" in tasks.names() and "plugged" not in tasks.code_tasks()
    config = _config({"task": {"name": "plugged", "options": {"greeting": "hello"}}, "model": {"base": "org/m"}})
    check(config)  # the registry's names are the schema's: no enum to edit
    task = tasks.from_config(config["task"])
    assert task.load("test", tasks.options_of(config["task"]))["question"].tolist() == ["hello"]
    assert task.prompt("x") == "Plugged: x"
    sys.modules.pop("plugged_task", None)


def test_the_estimate_reads_a_task_package_with_its_options(tmp_path, monkeypatch):
    # tpt-estimate takes the task as the problems rule does: from the registry, with task.options
    from tpt import estimate, tiny
    from tpt.chat import render_prompt

    _install_plugged(tmp_path, monkeypatch)
    config = check(_config({"task": {"name": "plugged", "options": {"greeting": "hello there"}},
                            "model": {"base": "org/m"}}))
    tokenizer = tiny.build_tokenizer(["Plugged: hello there", "Plugged: hi"])
    table, _ = estimate.estimate(config, tokenizer)
    prompt = len(tokenizer(render_prompt(tokenizer, "Plugged: hello there"), add_special_tokens=False)["input_ids"])
    hi = len(tokenizer(render_prompt(tokenizer, "Plugged: hi"), add_special_tokens=False)["input_ids"])
    assert prompt != hi  # so the count below says which question the estimate saw
    n = config["eval"]["n"]
    assert table["eval_samples"].tolist() == [n] * (config["rounds"] + 1)
    assert table["eval_prompt_tokens"].tolist() == [n * prompt] * (config["rounds"] + 1)
    sys.modules.pop("plugged_task", None)


def test_the_estimate_runs_on_the_custom_example(tmp_path, monkeypatch):
    # the README's own-task example, as `tpt-estimate --configfile config.yaml config/examples/custom-qa.yaml`
    from tpt import estimate

    monkeypatch.chdir(REPO)  # the example names its files relative to the workflow's folder
    config = estimate.load_config([os.path.join(REPO, "config.yaml"), EXAMPLE], REPO)
    config["results"] = str(tmp_path / "results")  # no run yet: the tokenizer is the one base_model would build
    table, assumptions = estimate.estimate(config, estimate.load_tokenizer(config))
    rows = {split: len(tasks.read_records(os.path.join(REPO, "config", "examples", "qa", f"{split}.jsonl")))
            for split in ("train", "test")}
    assert table["eval_samples"].tolist() == [rows["test"] * config["eval"]["n"]] * (config["rounds"] + 1)
    assert table["think_samples"].tolist()[1:] == [rows["train"] * config["think"]["n"]] * config["rounds"]
    assert (table["eval_prompt_tokens"] > 0).all()
    assert any("no gold solutions" in a for a in assumptions)
    # think.auto_temperature: the probe's samples (3 problems x think.n at each of 2 temperatures) count as think's
    config["think"]["auto_temperature"] = {"grid": [0.6, 1.0], "probe_problems": 3, "n_star": 8}
    probed, assumptions = estimate.estimate(config, estimate.load_tokenizer(config))
    assert (probed["think_samples"] - table["think_samples"]).tolist()[1:] == [3 * 2 * config["think"]["n"]] * \
        config["rounds"]
    assert (probed["think_prompt_tokens"] > table["think_prompt_tokens"]).tolist()[1:] == [True] * config["rounds"]
    assert any("temperature probe" in a for a in assumptions)


def test_an_unknown_task_names_the_registered_ones():
    with pytest.raises(ConfigError, match=r"unknown task 'gsm9k': choose one of \[.*'custom'.*'gsm8k'"):
        check(_config({"task": {"name": "gsm9k"}, "model": {"base": "org/m"}}))


# --- bad input ---

def test_missing_column_names_the_column_and_the_file(tmp_path):
    task, _ = _task(tmp_path, [{"q": "x", "answer_text": "1"}], answer="answer")
    with pytest.raises(ValueError, match=r"test\.jsonl has no column 'answer' \(task\.custom\.answer\).*answer_text"):
        task.load("test")
    task, _ = _task(tmp_path, [{"q": "x", "a": "1"}, {"q": "y", "a": None}])
    with pytest.raises(ValueError, match=r"train\.jsonl, row 2: column 'a' \(task\.custom\.answer\) is empty"):
        task.load("train")


@pytest.mark.parametrize("custom, message", [
    ({"scorer": "math_verfy"}, r"'math_verfy' is not a scorer: choose one of gsm8k, last_number, exact, regex, "
                               r"math_verify, code, module:function"),
    ({"scorer": "no_such_module:score"}, "cannot import module 'no_such_module'"),
    ({"scorer": "tpt.scorers:no_such_function"}, "has no function 'no_such_function'"),
    ({"prompt": "Solve this: {problem}"}, r"does not contain the \{question\} field"),
    ({"prompt": "{question} {choices}"}, r"unknown fields \['choices'\]"),
    ({"scorer": "regex", "regex": "Answer: .+"}, "capture group"),
    ({"prompt_file": "/no/such/prompt.txt"}, "no such file"),
])
def test_config_mistakes_stop_at_the_check(tmp_path, custom, message):
    with pytest.raises(ConfigError, match=message):
        _task(tmp_path, **custom)


def test_a_template_without_the_question_stops_snakemake_before_any_job(tmp_path):
    config = _merge(yaml.safe_load(open(EXAMPLE)), {"task": {"custom": {"prompt": "Solve it."}}})
    run = snakemake(tmp_path, config, "-n")
    assert run.returncode != 0 and "does not contain the {question} field" in run.stdout + run.stderr
    assert not (tmp_path / "results").exists()


# --- the README's example, end to end (one tiny round on the tiny model) ---

@pytest.mark.slow
def test_readme_example_runs_end_to_end(tmp_path, tiny_model):
    with open(EXAMPLE) as f:
        example = yaml.safe_load(f)
    # the example as written, run from a copy of the repo's example folder (its paths are relative), with the
    # session's tiny model and one small round instead of the built-in model's warm-up and two rounds
    os.symlink(os.path.join(REPO, "config"), tmp_path / "config")
    config = _merge(example, {
        "rounds": 1, "model": {"base": tiny_model}, "sampling": {"batch_size": 64},
        "think": {"n": 2, "max_new_tokens": 16}, "eval": {"n": 2, "max_new_tokens": 16},
        # a random tiny model answers nothing right: keep every sample so the round has data to train on
        "prune": {"strategy": "none", "per_problem": None, "val_size": 2},
        "finetune": {"epochs": 1, "batch_size": 8, "max_length": 128}})
    run = snakemake(tmp_path, config)
    assert run.returncode == 0, run.stderr[-3000:]
    res = tmp_path / "results"
    test = artifacts.read(str(res / "data/test.parquet"), artifacts.PROBLEMS)
    with open(os.path.join(REPO, "config", "examples", "qa", "test.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    assert test["question"].tolist() == [r["problem"] for r in rows]
    assert test["answer"].tolist() == [str(r["final"]) for r in rows]
    samples = artifacts.read(str(res / "round_1/eval/samples.parquet"), artifacts.SAMPLES)
    assert samples["prompt"].tolist() == [q for q in test["question"] for _ in range(2)]  # prompt: "{question}"
    verdicts = artifacts.read(str(res / "round_1/eval/verdicts.parquet"), artifacts.VERDICTS)
    gold = dict(zip(test["problem_id"], test["answer"]))
    expected = [scorers.last_number(c, gold[p], {}) for c, p in zip(samples["completion"], samples["problem_id"])]
    assert verdicts["correct"].tolist() == [e["correct_strict"] for e in expected]
    assert verdicts["answer_strict"].tolist() == [e["answer_strict"] for e in expected]
    assert verdicts["correct_numeric"].isna().all()
    sft = artifacts.read(str(res / "round_1/prune/sft_train.parquet"), artifacts.SFT)
    assert len(sft) > 0 and (res / "models/round_1/model.safetensors").exists()
    for round_ in (0, 1):
        m = artifacts.read(str(res / f"round_{round_}/eval/metrics.parquet"), artifacts.METRICS)
        assert sorted(m[m.metric == "pass@k_strict"]["k"]) == [1, 2]
        assert (m.metric == "correct@k_strict").any() and m[m.metric == "problems"]["value"].item() == len(rows)
    summary = pd.read_parquet(res / "report/summary.parquet")
    assert summary["round"].tolist() == [0, 1] and "pass@1_strict" in summary


def test_math_example_config_plans_its_rounds(tmp_path):
    with open(os.path.join(REPO, "config", "examples", "math-boxed.yaml")) as f:
        config = yaml.safe_load(f)
    run = snakemake(tmp_path, config, "-n", default_run=False)  # like a preset: over the schema's defaults
    assert run.returncode == 0, run.stderr[-2000:]
    assert "finetune" in run.stdout and "judge_selftest" not in run.stdout


def test_split_names_of_a_folder_source_and_parquet_files(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"q": ["a?", "b?"], "a": [1, 2]}).to_parquet(data / "train.parquet")
    (data / "validation.jsonl").write_text('{"q": "c?", "a": 3}\n')
    config = _config({"task": {"name": "custom", "source": str(data), "custom": {
        "train": "train", "test": "validation", "question": "q", "answer": "a", "scorer": "last_number"}},
        "model": {"base": "org/model"}})
    task = tasks.from_config(config["task"])
    assert task.load("train")["answer"].tolist() == ["1", "2"]
    assert task.load("test")["question"].tolist() == ["c?"]
    config["task"]["custom"]["test"] = "test"
    with pytest.raises(FileNotFoundError, match="neither test.jsonl nor test.parquet"):
        tasks.from_config(config["task"]).load("test")
