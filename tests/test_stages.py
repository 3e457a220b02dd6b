"""What each stage reads (tpt.stages): the issue cases of wrong sharing and of waste, every schema key's plan in a
two-variant experiment, and what the stages' code really reads in a run (recorded)."""
import copy
import os
import re

import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from helpers import REPO, TINY, _merge, snakemake
from tpt import experiment, sharing, stages

SCHEMA_PATH = os.path.join(REPO, "workflow", "schemas", "config.schema.yaml")
SCHEMA = yaml.safe_load(open(SCHEMA_PATH))
BASE = {**yaml.safe_load(open(os.path.join(REPO, "config.yaml"))), "rounds": 2}


def _validator():
    """The schema's check with its defaults filled in, as snakemake.utils.validate does, but with the schema
    parsed once (the plan check validates some 800 configs)."""
    from jsonschema import Draft202012Validator, validators

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from Draft202012Validator.VALIDATORS["properties"](validator, props, instance, schema)

    checker = validators.extend(Draft202012Validator, {"properties": properties})(SCHEMA)
    return checker.validate


VALIDATE = _validator()


def _variants(set_b, base=BASE):
    exp = {"name": "x", "reference": "a", "variants": [{"name": "a"}, {"name": "b", "set": set_b}]}
    return experiment.expand({**copy.deepcopy(base), "experiment": exp}, VALIDATE)[2]


def test_the_fast_schema_check_fills_what_snakemakes_does():
    ours, theirs = copy.deepcopy(BASE), copy.deepcopy(BASE)
    VALIDATE(ours)
    validate(theirs, SCHEMA_PATH)
    assert ours == theirs


def _recomputed(set_b, base=BASE):
    """The artifacts variant b computes itself (not linked from a)."""
    variants = _variants(set_b, base)
    linked = {path for name, path, _ in sharing.shared(variants) if name == "b"}
    return set(sharing.stage_keys(variants["b"])) - linked


# ---- the cases: what must be recomputed


@pytest.mark.parametrize("key, value", [
    ("finetune.distributed.processes", 2),  # the effective batch doubles
    ("resources.finetune.gpu", 2),           # two processes under FSDP
    ("resources.finetune.nodes", 2),
])
def test_more_training_processes_make_other_models(key, value):
    redone = _recomputed({key: value})
    assert {"models/round_1", "models/round_2", "round_2/think/samples.parquet"} <= redone
    assert "models/round_0" not in redone and "round_1/think/samples.parquet" not in redone


def test_a_base_model_trained_on_a_gpu_is_another_base_model():
    assert "models/round_0" in _recomputed({"resources.base_model.gpu": 1})


CODE = {**BASE, "task": {"name": "codecontests", "source": "/nonexistent/codecontests",
                         "validate": {"solutions": 2, "correct_fails": "drop", "incorrect_passes": "drop"}},
        "model": {"base": "org/hub-model"}}


def test_samples_of_a_hub_model_follow_their_problems():
    """With problem checks on, the judge's time factor decides which problems are kept: every sample drawn on
    them is another one (the hub model's key alone does not say so)."""
    redone = _recomputed({"verify.code.time_factor": 2.0}, CODE)
    assert {"data/train.parquet", "data/test.parquet", "judge/selftest.txt", "round_0/eval/samples.parquet",
            "round_1/think/samples.parquet", "models/round_1"} <= redone
    # without the checks the problems do not depend on the judge; the samples neither; verdicts do
    no_checks = {**CODE, "task": {**CODE["task"], "validate": {"solutions": 0}}}
    redone = _recomputed({"verify.code.time_factor": 2.0}, no_checks)
    assert not {"data/train.parquet", "round_0/eval/samples.parquet", "round_1/think/samples.parquet"} & redone
    assert {"round_0/eval/verdicts.parquet", "round_1/think/verdicts.parquet"} <= redone


# ---- and what may be shared


@pytest.mark.parametrize("set_b", [
    {"task.custom.prompt": "Q: {question}"},   # another task's section
    {"sampling.progress_interval_s": 5},
    {"finetune.save_steps": 7},
    {"finetune.report_to": "tensorboard"},
    {"finetune.lora.r": 4},                     # LoRA's settings under full fine-tuning
    {"verify.code.time_factor": 3.0},           # the judge's settings on a math task
    {"think.shards": 3, "eval.shards": 2, "threads.generate": 2},
])
def test_keys_that_change_nothing_share_everything(set_b, monkeypatch):
    monkeypatch.setattr("tpt.config._check_report_to", lambda value: None)  # tensorboard need not be installed
    assert _recomputed(set_b) == set()


# ---- every schema key: a two-variant experiment recomputes exactly what reads it, and what follows


def _leaves(node, prefix=""):
    """(dotted key, schema node) of every key of the schema that holds a value."""
    for key, sub in (node.get("properties") or {}).items():
        if sub.get("properties"):
            yield from _leaves(sub, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", sub


# Values to try for keys whose other values the schema does not list (tpt.config checks them)
VALUES = {"sampling.max_model_len": [512], "verify.criterion": ["numeric", "strict"], "prune.select": ["distinct"],
          "prune.allocation": ["uniform"], "verify.code.backend": ["none", "userns"]}


def _candidates(key, sub, value):
    """Other values a key could take, to try in turn (the first the config checks accept is used)."""
    if key in VALUES:
        return [v for v in VALUES[key] if v != value]
    types = sub.get("type") if isinstance(sub.get("type"), list) else [sub.get("type")]
    out = [e for e in sub.get("enum", []) if e != value]
    if isinstance(value, bool) or "boolean" in types:
        out.append(not value)
    if isinstance(value, int) and not isinstance(value, bool):
        out += [value + 1, value * 2, max(value - 1, 0)]
    if isinstance(value, float):
        out += [value / 2 if value else 0.5, min(value + 0.1, 0.99)]
    if value is None:
        out += [2 if "integer" in types else 0.5 if "number" in types else [0.7, 0.9] if "array" in types else "x"]
    if isinstance(value, str) and not sub.get("enum"):
        out.append(value + "-other" if "{" not in value else value + " ")
    if isinstance(value, list):
        out.append(value[:-1] if len(value) > 1 else value + value)
    return [c for c in out if c != value]


# Inputs of each artifact (paths under a variant's folder), as the workflow's rules take them: written here again,
# apart from tpt.stages, so that a chain the keys miss shows.
def _inputs(path, cfg):
    m = re.match(r"round_(\d+)/(think|eval)/(\w+)\.parquet", path)
    split = {"think": "train", "eval": "test"}
    if m:
        r, phase, what = int(m.group(1)), m.group(2), m.group(3)
        model = f"models/round_{r - 1 if phase == 'think' else r}"
        samples, verdicts = f"round_{r}/{phase}/samples.parquet", f"round_{r}/{phase}/verdicts.parquet"
        probe = [f"round_{r}/think/probe.parquet"] if phase == "think" and cfg["think"]["auto_temperature"]["grid"] \
            else []
        return {"samples": [model, f"data/{split[phase]}.parquet"] + probe,
                "probe": [model, "data/train.parquet"], "probe_samples": [model, "data/train.parquet"],
                "verdicts": [samples, f"data/{split[phase]}.parquet"],
                "metrics": [samples, verdicts] + ([f"round_{r}/prune/sft_train.parquet"] if phase == "think" else [])
                }[what]
    m = re.match(r"round_(\d+)/prune/", path)
    if m:
        r = int(m.group(1))
        return [f"round_{r}/think/samples.parquet", f"round_{r}/think/verdicts.parquet"] + (
            [f"round_{r - 1}/prune/sft_train.parquet"] if cfg["prune"]["accumulate"] and r > 1 else [])
    m = re.match(r"(?:models|logs)/round_(\d+)", path)
    if m and int(m.group(1)) > 0:
        r, ft = int(m.group(1)), cfg["finetune"]
        return [f"round_{r}/prune/sft_train.parquet", f"models/round_{0 if ft['init'] == 'base' else r - 1}"] + (
            [f"models/round_{0 if ft['interpolate']['with'] == 'base' else r - 1}"]
            if ft["interpolate"]["ratio"] < 1 else [])
    return []


def _job_of(path):
    """(stage, split, phase, round) of the job that writes path, or None for the metrics jobs (which read no
    config)."""
    if path.startswith("data/"):
        return "problems", path.split("/")[1].split(".")[0].split("_")[0], None, None
    if path.startswith("judge/"):
        return "judge_selftest", None, None, None
    m = re.match(r"(?:models|logs)/round_(\d+)", path)
    if m:
        return ("base_model", None, None, None) if m.group(1) == "0" else ("finetune", None, None, int(m.group(1)))
    r, phase, name = re.match(r"round_(\d+)/(\w+)/(\w+)", path).groups()
    stage = {"samples": "generate", "verdicts": "verify", "sft_train": "prune", "sft_val": "prune",
             "probe": "probe", "probe_samples": "probe"}.get(name)
    return (stage, None, None if stage in ("prune", "probe") else phase, int(r)) if stage else None


def _reads_what(cfg, path, key):
    job = _job_of(path)
    if job is None or stages.is_how(key):
        return False
    stage, split, phase, round_ = job
    return any(key == k or key.startswith(k + ".") for k in stages.reads(cfg, stage, split, phase, round_))


def _differing(a, b, prefix=""):
    """The dotted keys whose values differ between two full configs (one set key can set others: defaults that
    follow it)."""
    out = set()
    for k in set(a) | set(b):
        x, y = a.get(k), b.get(k)
        if isinstance(x, dict) and isinstance(y, dict) and f"{prefix}{k}" != "task.options":
            out |= _differing(x, y, f"{prefix}{k}.")
        elif x != y:
            out.add(f"{prefix}{k}")
    return out


def _expected(a, b, key):
    """The artifacts of b that differ from a's: those whose stage reads key (in a or b), or a key that follows it,
    and all that follow them."""
    keys = sharing.stage_keys(b)
    also = _differing(a, b) - {key, "results"}
    if key in stages.THROUGH:  # think.temperatures: read as the round's think.temperature, where that differs
        from tpt.sampling import round_temperature

        differs = {r for r in range(1, b["rounds"] + 1) if round_temperature(a["think"], r) !=
                   round_temperature(b["think"], r)}
        reads = {p for p in keys if _reads_what(b, p, stages.THROUGH[key]) and _job_of(p)[3] in differs}
    else:
        reads = {p for p in keys if any(_reads_what(a, p, k) or _reads_what(b, p, k) for k in {key} | also)}
    hub = a["model"]["base"] != b["model"]["base"]
    changed = {"models/round_0"} if hub else set()  # another hub model: round 0's model is another
    for path in keys:  # in the order of the rounds: inputs first (stage_keys lists them so)
        if path in reads or any(
                p in changed for p in _inputs(path, b)):
            changed.add(path)
    return changed


# Keys the plan check does not try as a one-key variant, and why.
UNTRIED = {
    "experiment": "the experiment section itself",
    "results": "set by the experiment for each variant",
    "task.name": "another task changes every artifact (test_every_schema_key_on_a_code_task_with_a_hub_model "
                 "covers a second task)",
}
# Keys that no one-key change of the configs below gets past tpt.config's checks, and why that is right
REFUSED = {
    "prune.accumulate_cap": "only with prune.accumulate: true (test_stages covers it in the accumulate config)",
    "finetune.report_to": "needs tensorboard or wandb installed (test_keys_that_change_nothing_share_everything)",
}


def _plan_check(base):
    tried, skipped = [], {}
    cfg_a = _variants({}, base)["a"]
    for key, sub in _leaves(SCHEMA):
        if key in UNTRIED or key.startswith("experiment"):
            continue
        value = stages._get(cfg_a, key) if _has(cfg_a, key) else None
        for candidate in _candidates(key, sub, value):
            try:
                variants = _variants({key: candidate}, base)
            except Exception as e:  # the config checks refuse this value alone (e.g. a strategy for 1 process)
                skipped[key] = str(e)[:100]
                continue
            a, b = variants["a"], variants["b"]
            keys_a, keys_b = sharing.stage_keys(a), sharing.stage_keys(b)
            # on the paths both have (rounds: b's extra round is its own)
            actual = {p for p in keys_b if p in keys_a and keys_a[p] != keys_b[p]}
            expected = _expected(a, b, key) & set(keys_a) & set(keys_b)
            assert actual == expected, (key, candidate, sorted(actual ^ expected))
            tried.append(key)
            skipped.pop(key, None)
            break
    return tried, skipped


def _has(cfg, key):
    try:
        stages._get(cfg, key)
        return True
    except (KeyError, TypeError):
        return False


def test_every_schema_key_recomputes_exactly_what_reads_it():
    """Every key of the schema but UNTRIED's, changed alone in a variant: the artifacts whose keys change are
    exactly those of the stages that read it (their declaration) and all that follow them (the rules' inputs,
    written again in _inputs). A key added to a declaration or to the chain in one place only fails here."""
    tried, skipped = _plan_check(BASE)
    assert set(skipped) == set(REFUSED), skipped
    assert len(tried) + len(skipped) + len(UNTRIED) == len(list(_leaves(SCHEMA))) - 1   # less experiment's own


def test_every_schema_key_is_read_by_a_stage_or_has_its_reason():
    """A key no stage reads is a *how* key (stages.HOW) or one of stages.UNREAD, each with its reason."""
    read = set()
    for base in (BASE, CODE, {**BASE, "sampling": {"backend": "vllm"}, "finetune": {"method": "lora"}},
                 {**CODE, "task": {"name": "custom", "custom": {"train": "t.jsonl", "test": "t.jsonl"}}},
                 {**BASE, "prune": {"accumulate": True, "accumulate_cap": 9, "weights": "dco"},
                  "finetune": {"interpolate": {"ratio": 0.5}, "loss": "gem"}},
                 {**BASE, "prune": {"weights": "unlikely"}}):
        cfg = _variants({}, base)["a"]
        jobs = [("problems", s, None, None) for s in ("train", "test")] + [("judge_selftest", None, None, None)]
        jobs += [(st, None, ph, r) for st in ("generate", "verify") for ph in ("think", "eval") for r in (1, 2)]
        jobs += [("prune", None, None, 2), ("finetune", None, None, 2), ("probe", None, None, 2)]
        jobs += [("base_model", None, None, None)] if cfg["model"]["base"] == "builtin" else []
        read |= {k for job in jobs for k in stages.reads(cfg, *job)}
    unread = [key for key, _ in _leaves(SCHEMA) if not any(key == k or key.startswith(k + ".") for k in read)
              and not stages.is_how(key) and key.split(".")[0] not in stages.UNREAD
              and key not in stages.THROUGH and key != "model.base"]   # a hub model: its id keys its round 0
    assert unread == [], unread


def test_every_schema_key_on_a_code_task_with_a_hub_model():
    tried, skipped = _plan_check(CODE)
    assert set(skipped) == set(REFUSED) | {"verify.criterion"}, skipped   # code tasks score strict only
    assert "verify.code.time_factor" in tried and "task.validate.solutions" in tried


def test_the_accumulate_cap_recomputes_the_pooled_rounds_only():
    acc = {**BASE, "prune": {"accumulate": True}}
    redone = _recomputed({"prune.accumulate_cap": 5}, acc)
    assert "round_1/prune/sft_train.parquet" not in redone and "round_2/prune/sft_train.parquet" in redone


# ---- real dry runs of a two-variant experiment agree with the plan


def _dry_run_outputs(workdir, set_b):
    exp = {"name": "x", "reference": "a", "variants": [{"name": "a"}, {"name": "b", "set": set_b}]}
    run = snakemake(workdir, {**TINY, "experiment": exp}, "-n")
    assert run.returncode == 0, run.stderr[-3000:]
    text = run.stdout + run.stderr
    jobs = {}
    for m in re.finditer(r"(?:local)?rule (\S+):\n(?:.*\n)*?\s+output: (.*)", text):
        for path in m.group(2).split(", "):
            jobs[path] = m.group(1)
    return jobs


@pytest.mark.parametrize("set_b", [{"finetune.distributed.processes": 2}, {"sampling.progress_interval_s": 5},
                                   {"prune.per_problem": 3}])
def test_dry_runs_compute_what_the_plan_says(tmp_path, set_b):
    jobs = _dry_run_outputs(tmp_path, set_b)
    variants = _variants(set_b, {**TINY, "results": "results"})
    linked = {path for name, path, _ in sharing.shared(variants) if name == "b"}
    computed = {p[len("results/x/b/"):] for p, rule in jobs.items()
                if p.startswith("results/x/b/") and rule.startswith("v_b_")}
    for path in sharing.stage_keys(variants["b"]):
        if path in linked:
            assert jobs.get(f"results/x/b/{path}", "share").startswith("share"), path
        elif path not in ("logs/round_1/finetune_loss.parquet",) and not path.endswith("sft_val.parquet") \
                and not path.endswith("_checks.parquet"):
            assert path in computed, path


# ---- what the stages' code reads, recorded in a run


def _undeclared(folder, cfg):
    """{job: keys its code read that its declaration does not hand it}, from the Recorder files in folder."""
    out = {}
    for name in sorted(os.listdir(folder)):
        read = set(open(os.path.join(folder, name)).read().split())
        job = name[:-len(".txt")]
        stage = next(s for s in ("judge_selftest", "base_model", "problems", "generate", "verify", "prune",
                                 "finetune", "probe") if job.startswith(s))
        ctx = job[len(stage) + 1:].split("_") if job != stage else []
        split = next((c for c in ctx if c in ("train", "test")), None)
        phase = next((c for c in ctx if c in ("think", "eval")), None)
        round_ = next((int(c) for c in ctx if c.isdigit()), None)
        declared = [leaf for k in stages.reads(cfg, stage, split, phase, round_) for leaf in stages._leaves(cfg, k)]
        bad = {k for k in read if not any(k == d or d.startswith(k + ".") for d in declared)}
        if bad:
            out[job] = sorted(bad)
    return out


def test_a_read_the_declaration_misses_is_caught(tmp_path):
    """The check itself: prune's code asked for a settings dict without prune.select (as if its declaration forgot
    it) reads it with a default, which would silently differ between variants; the recording names it."""
    from tpt import prune

    cfg = _variants({}, {**TINY, "results": "results"})["a"]
    handed = stages.settings(cfg, "prune", round_=1)["prune"]
    del handed["select"]
    samples = pd.DataFrame({"sample_id": ["s0"], "problem_id": ["p0"], "prompt": ["q"], "completion": ["a"],
                            "finish_reason": ["stop"], "prompt_tokens": [1], "completion_tokens": [1]})
    recorder = stages.Recorder(handed, str(tmp_path / "reads"), "prune_1", "prune.")
    try:
        prune.prune(samples, pd.DataFrame({"sample_id": ["s0"], "correct": [True]}), recorder, 1)
    except Exception:
        pass  # the toy frames need not get through: the reads before any failure are what counts
    cfg["prune"].pop("select")
    assert "prune.select" in _undeclared(str(tmp_path / "reads"), cfg).get("prune_1", [])


@pytest.mark.slow
def test_a_run_reads_only_what_each_stage_declares(tmp_path, monkeypatch):
    """Every rule script's settings are recording dicts (TPT_RECORD_READS): each key its code read, per job, must
    be one its stage declares. (The fine-tune's settings reach it as JSON, through tpt.launch: its reads are
    recorded in test_the_fine_tune_reads_only_what_it_declares.)"""
    folder = tmp_path / "reads"
    monkeypatch.setenv(stages.RECORD, str(folder))
    # the think temperature chosen by a probe (think.auto_temperature): think's generate job reads no temperature
    config = {**TINY, "think": {**TINY["think"], "auto_temperature": {"grid": [0.7, 1.3], "probe_problems": 3}},
              "prune": {**TINY["prune"], "weights": "dco"}, "finetune": {**TINY["finetune"], "loss": "gem"}}
    run = snakemake(tmp_path, config)
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = sorted(os.listdir(folder))
    assert {"problems_train.txt", "problems_test.txt", "generate_think_1.txt", "generate_eval_0.txt",
            "verify_think.txt", "prune_1.txt", "base_model.txt", "probe_1.txt"} <= set(jobs), jobs
    cfg = _variants({}, {**config, "results": "results"})["a"]
    assert _undeclared(str(folder), cfg) == {}
    # the probe: 3 problems x 2 samples at each temperature; the round thought, and its card says so, at the one
    # it chose
    probe = pd.read_parquet(tmp_path / "results" / "round_1" / "think" / "probe.parquet")
    assert probe["temperature"].tolist() == [0.7, 1.3] and probe["samples"].tolist() == [6, 6]
    assert probe["chosen"].sum() == 1
    chosen = probe.loc[probe["chosen"], "temperature"].iloc[0]
    assert f"temperature {chosen:g}, chosen by the round's probe" in \
        (tmp_path / "results" / "logs" / "round_1" / "generate_think_0.log").read_text()
    assert f"at temperature {chosen:g} (chosen by the round's probe from [0.7, 1.3])" in \
        (tmp_path / "results" / "models" / "round_1" / "README.md").read_text()


@pytest.mark.parametrize("method", ["full", "lora"])
def test_the_fine_tune_reads_only_what_it_declares(tiny_model, tmp_path, method):
    """The fine-tune gets its settings as JSON through tpt.launch (no recording dict survives that): tpt.train's
    fine-tune and the model card (tpt.card) are called here with the finetune stage's recording settings."""
    from tpt import card, train

    base = _merge({**TINY, "results": "results"}, {"finetune": {"method": method, "batch_size": 2}})
    cfg = _variants({}, base)["a"]
    folder = str(tmp_path / "reads")
    handed = stages.settings(cfg, "finetune", round_=1)
    rows = [{"sample_id": f"s{i}", "prompt": f"Mia has {i} apples. How many apples?",
             "completion": f"{i}. Answer: {i}"} for i in range(4)]
    recorded = stages.Recorder(handed, folder, "finetune_1")
    figures = train.finetune(tiny_model, str(tmp_path / "out"), rows, rows[:2], recorded["finetune"],
                             str(tmp_path / "scratch"))
    info = {"base_model": recorded["model"]["base"], "round": 1, "task": recorded["task"]["name"],
            "think": recorded["think"], "prune": recorded["prune"], "criterion": recorded["verify"]["criterion"],
            "seed": recorded["seed"], "start_model": tiny_model, "finetune": recorded["finetune"], "examples": 4,
            "val_examples": 2}
    card.training_card(info, figures)
    reads = set(open(os.path.join(folder, "finetune_1.txt")).read().split())
    assert "finetune.learning_rate" in reads and ("finetune.lora.r" in reads) == (method == "lora")
    assert _undeclared(folder, cfg) == {}


def test_a_model_card_states_the_temperature_its_round_used():
    from tpt import card

    cfg = _variants({"think.temperatures": [0.6, 1.1]})["b"]
    for round_, temperature in ((1, 0.6), (2, 1.1)):
        s = stages.settings(cfg, "finetune", round_=round_)
        info = {"base_model": s["model"]["base"], "round": round_, "task": s["task"]["name"], "think": s["think"],
                "prune": s["prune"], "criterion": s["verify"]["criterion"], "seed": s["seed"], "start_model": "m",
                "finetune": s["finetune"], "examples": 4, "val_examples": 2}
        assert f"at temperature {temperature:g} " in card.training_card(info, {})


def test_the_base_model_reads_only_what_it_declares(tmp_path):
    """The base model's script's calls, made here with the base_model stage's recording settings as the rule
    (workflow/rules/model.smk) hands them, and checked key by key. (tiny.warm_up
    copies the finetune settings into a plain dict before training: the copy counts as reading every handed key,
    and tpt.train's reads of the copy are not recorded; test_the_fine_tune_reads_only_what_it_declares records
    those.)"""
    from tpt import tasks, tiny, train

    cfg = _variants({}, {**TINY, "results": "results"})["a"]
    folder = str(tmp_path / "reads")
    recorded = stages.Recorder(stages.settings(cfg, "base_model"), folder, "base_model")
    warmup = tasks.get("arith").load("warmup", recorded["task"]["arith"])
    tokenizer, model = tiny.build(warmup, recorded["model"]["builtin"])
    train.save_model(model, tokenizer, str(tmp_path / "init"))
    tiny.warm_up(str(tmp_path / "init"), str(tmp_path / "out"), warmup, recorded["model"]["builtin"],
                 recorded["finetune"], str(tmp_path / "scratch"))
    reads = set(open(os.path.join(folder, "base_model.txt")).read().split())
    assert {"task.arith.warmup_problems", "model.builtin.hidden_size", "finetune.batch_size"} <= reads
    assert _undeclared(folder, cfg) == {}
