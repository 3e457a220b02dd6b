"""Experiments: expansion of the variants, bad input, sharing of identical work (on the DAG), the comparison, and
a tiny two-variant experiment end to end."""
import os
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.utils import validate

from helpers import REPO, TINY, _merge, snakemake
from tpt import artifacts, compare, experiment, sharing
from tpt.config import ConfigError

SCHEMA = os.path.join(REPO, "workflow", "schemas", "config.schema.yaml")
BASE = yaml.safe_load(open(os.path.join(REPO, "config.yaml")))


def _expand(exp, base=BASE):
    return experiment.expand({**base, "experiment": exp}, lambda cfg: validate(cfg, SCHEMA))


def test_variants_and_grid_expand_over_the_reference():
    name, ref, variants = _expand({
        "name": "study", "reference": "paper",
        "variants": [{"name": "wide", "set": {"prune": {"per_problem": 4}, "prune.select": "distinct"}},
                     {"name": "paper"}],
        "grid": {"think.n": [4, 8], "finetune.learning_rate": [1e-4, 5e-4, 1e-3]}})
    assert (name, ref) == ("study", "paper")
    names = list(variants)
    assert names[:2] == ["paper", "wide"] and len(names) == 2 + 2 * 3     # the reference first, then the grid
    assert "n-4_learning_rate-0.0001" in names
    assert variants["wide"]["prune"]["per_problem"] == 4 and variants["wide"]["prune"]["select"] == "distinct"
    assert variants["paper"]["prune"] == validate_default(BASE)["prune"]
    grid = [v for n, v in variants.items() if n.startswith("n-")]
    assert sorted((v["think"]["n"], v["finetune"]["learning_rate"]) for v in grid) == sorted(
        (n, lr) for n in (4, 8) for lr in (1e-4, 5e-4, 1e-3))
    assert variants["wide"]["results"] == "results/study/wide"
    assert variants["wide"]["finetune"]["interpolate"]["ratio"] == 1.0      # the schema's defaults are filled


def validate_default(cfg):
    cfg = {**cfg}
    validate(cfg, SCHEMA)
    return cfg


@pytest.mark.parametrize("exp, message", [
    ({"variants": [{"name": "a"}, {"name": "b", "set": {"prune.selct": "distinct"}}]},
     r"variant 'b': unknown key 'prune.selct' \(prune has keys: .*select"),
    ({"variants": [{"name": "a"}, {"name": "a", "set": {"think.n": 2}}]}, "the name 'a' is used twice"),
    ({"variants": [{"name": "a"}], "grid": {"think.temprature": [0.6, 1.0]}}, r"unknown key 'think.temprature'"),
    ({"variants": [{"name": "a"}, {"name": "b", "set": {"think.n": "many"}}]},
     r"(?s)variant 'b': .*'many' is not of type 'integer'"),
    ({"variants": [{"name": "a"}, {"name": "b", "set": {"prune.select": "best"}}]},
     r"variant 'b': prune.select='best'"),
    ({"variants": [{"name": "b"}]}, r"experiment.reference='a' is not one of the variants \(b\)"),
    ({"variants": [{"name": "a", "sett": {}}]}, r"variant 'a': unknown field\(s\) \['sett'\]"),
    ({"variants": [{"name": "a/b"}]}, "variant name 'a/b'"),
    ({"variants": [{"name": "a"}, {"name": "a-1"}, {"name": "a_1"}]}, "'a-1' and 'a_1' differ only in"),
    ({"variants": [{"name": "a", "set": {"results": "elsewhere"}}]}, "results is set by the experiment"),
])
def test_bad_experiments_name_the_variant_and_the_key(exp, message):
    with pytest.raises(ConfigError, match=message):
        _expand({"name": "x", "reference": "a", **exp})


def _keys(**extra):
    cfg = _merge(validate_default(BASE), extra)
    return sharing.stage_keys(cfg)


def test_stage_keys_change_only_downstream_of_the_changed_setting():
    ref = _keys()
    ft = _keys(finetune={"learning_rate": 1e-3})
    same = [p for p in ref if ref[p] == ft[p]]
    assert {"data/train.parquet", "models/round_0", "round_0/eval/metrics.parquet", "round_1/think/samples.parquet",
            "round_1/think/verdicts.parquet", "round_1/prune/sft_train.parquet"} <= set(same)
    assert ref["models/round_1"] != ft["models/round_1"] and ref["round_2/think/samples.parquet"] != ft[
        "round_2/think/samples.parquet"]
    hot = _keys(think={"temperatures": [0.8, 1.0]})  # round 1 at 0.8 as before, round 2 on at 1.0
    assert hot["models/round_1"] == ref["models/round_1"]
    assert hot["round_2/think/samples.parquet"] != ref["round_2/think/samples.parquet"]
    shards = _keys(think={"shards": 3}, eval={"shards": 2}, threads={"generate": 2})   # how, not what
    assert shards == ref
    acc = _keys(prune={"accumulate": True})
    assert acc["models/round_1"] == ref["models/round_1"]   # round 1 has nothing earlier to pool: the same
    assert acc["round_2/prune/sft_train.parquet"] != ref["round_2/prune/sft_train.parquet"]
    assert acc["round_2/think/samples.parquet"] == ref["round_2/think/samples.parquet"]


def _dry_run_jobs(workdir, config, *args):
    """{output path: rule} of every job a dry run would run."""
    run = snakemake(workdir, config, "-n", *args)
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = {}
    for block in re.split(r"\n(?=\[.*\]\n(?:local)?rule )", run.stdout + run.stderr):
        m = re.search(r"(?:local)?rule (\S+):\n(?:.*\n)*?\s+output: (.*)", block)
        if m:
            for path in m.group(2).split(", "):
                jobs[path] = m.group(1)
    return jobs


TWO = {"name": "tiny", "reference": "ref",
       "variants": [{"name": "ref"}, {"name": "wise", "set": {"finetune.interpolate.ratio": 0.5}}]}


def test_a_variant_that_changes_fine_tuning_only_shares_round_1_think_verify_and_prune_on_the_dag(tmp_path):
    jobs = _dry_run_jobs(tmp_path, {**TINY, "experiment": TWO, "think": {**TINY["think"], "shards": 2}})
    for path in ("data/test.parquet", "models/round_0", "round_0/eval/metrics.parquet",
                 "round_1/think/samples.parquet", "round_1/think/verdicts.parquet", "round_1/prune/sft_train.parquet"):
        assert jobs.get(f"results/tiny/ref/{path}", "").startswith("v_ref_")
        assert jobs.get(f"results/tiny/wise/{path}", "share").startswith("share")   # linked, or not needed
    # computed once: one base model, one think per round, two shards each; the fine-tune and eval of both
    rules = list(jobs.values())
    assert rules.count("v_ref_base_model") == 1 and "v_wise_base_model" not in rules
    assert sum(p.startswith("results/tiny/") and "/think/shards/" in p for p in jobs) == 2
    assert jobs["results/tiny/wise/models/round_1"] == "v_wise_finetune"
    assert jobs["results/tiny/wise/round_1/eval/samples.parquet"] == "v_wise_gather_samples"
    assert jobs["results/tiny/comparison/table.md"] == "experiment_report"


def test_validation_twins_only_evaluate_on_the_dag(tmp_path):
    jobs = _dry_run_jobs(tmp_path, {**TINY, "experiment": {**TWO, "validation": True}})
    for path in ("data/train.parquet", "models/round_0", "round_1/think/verdicts.parquet", "models/round_1"):
        assert jobs.get(f"results/tiny/wise-val/{path}", "share").startswith("share"), path
    # the validation problems and round 0's evaluation on them are computed once, by the reference's twin
    for path in ("data/test.parquet", "round_0/eval/samples.parquet"):
        assert jobs[f"results/tiny/ref-val/{path}"].startswith("v_ref_val_"), path
        assert jobs.get(f"results/tiny/wise-val/{path}", "share").startswith("share"), path
    assert jobs["results/tiny/wise-val/round_1/eval/verdicts.parquet"] == "v_wise_val_verify"
    assert {r for r in jobs.values() if r.endswith("_finetune")} == {"v_ref_finetune", "v_wise_finetune"}


# Loads the workflow with Snakemake's API and prints which rules run in Snakemake's own process on a cluster:
# Workflow.is_local(rule) asks the executor first (every rule is local on the local executor), then reads the rule
# names that `localrule: True` recorded (Workflow._localrules, which Snakemake keeps no public accessor for).
_LOCAL_RULES = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, Quietness, ResourceSettings
snakefile, workdir, *configfiles = sys.argv[1:]
with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
    wf = api.workflow(ResourceSettings(cores=2), ConfigSettings(configfiles=[Path(c) for c in configfiles]),
                      snakefile=Path(snakefile), workdir=Path(workdir))._workflow
    print(json.dumps(sorted(r.name for r in wf.rules if r.name in wf._localrules)))
"""


def test_every_variants_light_rules_run_locally_on_a_cluster(tmp_path):
    """The light rules (all, problems, gather_samples, prune, eval_metrics, think_metrics, report) run in
    Snakemake's process on a cluster, in a single run and in every variant of an experiment (imported under the
    name v_<variant>_<rule>); the others (generate, verify, finetune, ...) are cluster jobs."""
    import json
    import subprocess
    import sys

    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump({**TINY, "experiment": TWO}))
    run = subprocess.run([sys.executable, "-c", _LOCAL_RULES, os.path.join(REPO, "Snakefile"), str(tmp_path),
                          os.path.join(REPO, "config.yaml"), str(path)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.path.join(REPO, "src")}, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    local = set(json.loads(run.stdout.strip().splitlines()[-1]))
    light = {"all", "problems", "gather_samples", "prune", "eval_metrics", "think_metrics", "report"}
    heavy = {"generate", "verify", "finetune", "base_model", "judge_selftest"}
    for prefix in ("", "v_ref_", "v_wise_"):
        assert {prefix + r for r in light} <= local, prefix
        assert not {prefix + r for r in heavy} & local, prefix
    assert "experiment_report" in local


def test_paired_difference_against_a_direct_computation():
    ref = pd.DataFrame({"problem_id": list("aabbcc"), "correct_strict": [1, 0, 1, 1, 0, 0]}).astype(
        {"correct_strict": bool})
    var = pd.DataFrame({"problem_id": list("aabbcc"), "correct_strict": [1, 1, 1, 0, 1, 0]}).astype(
        {"correct_strict": bool})
    out = compare.paired_difference({"ref": (3, ref, "ref", ref), "var": (3, var, "ref", ref)}).set_index("variant")
    diffs = np.array([1.0 - 0.5, 0.5 - 1.0, 0.5 - 0.0])
    assert out.loc["var", "diff"] == pytest.approx(diffs.mean())
    assert out.loc["var", "stderr"] == pytest.approx(diffs.std(ddof=1) / np.sqrt(3))
    assert out.loc["ref", "diff"] == 0 and out.loc["var", "round"] == 3 and out.loc["var", "against"] == "ref"
    with pytest.raises(ValueError, match="'var' and 'ref' were evaluated on different problems"):
        compare.paired_difference({"var": (3, var[var.problem_id != "c"], "ref", ref)})


def test_wall_time_counts_every_job_of_a_round_where_it_ran(tmp_path):
    # variant b takes round 1's think samples from a (a's two generate shards ran them) and runs the rest itself
    from tpt import paths

    results = {"a": str(tmp_path / "a"), "b": str(tmp_path / "b")}
    seconds = {("a", "generate_think_0", 1): 10, ("a", "generate_think_1", 1): 5, ("b", "generate_think_0", 1): 99,
               ("b", "verify_think", 1): 2, ("b", "prune", 1): 1, ("b", "think_metrics", 1): 0.5,
               ("b", "finetune", 1): 3, ("b", "generate_eval_0", 1): 4, ("b", "verify_eval", 1): 1,
               ("b", "eval_metrics", 1): 1, ("b", "base_model", None): 7, ("b", "generate_eval_0", 0): 6,
               ("b", "report", None): 50}
    for (variant, name, round_), s in seconds.items():
        path = paths.benchmark(results[variant], name, round_)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        pd.DataFrame({"s": [s], "max_rss": [1.0]}).to_csv(path, sep="\t", index=False)
    owners = {("b", "round_1/think/samples.parquet"): "a"}
    assert compare.wall_time("b", 1, results, owners) == 10 + 5 + 2 + 1 + 0.5 + 3 + 4 + 1 + 1
    assert compare.wall_time("b", 0, results, owners) == 7 + 6  # the base model and round 0's evaluation
    assert np.isnan(compare.wall_time("a", 0, results, owners))  # no job of a's round 0 left a benchmark file


def test_validation_twins_share_all_training_and_are_compared_with_the_references_twin():
    _, _, variants = _expand({"name": "x", "reference": "paper", "validation": True,
                              "variants": [{"name": "wise", "set": {"finetune.interpolate.ratio": 0.5}},
                                           {"name": "paper"}]})
    assert list(variants) == ["paper", "wise", "paper-val", "wise-val"]
    assert variants["wise-val"]["task"]["arith"]["evaluate_on"] == "validation"
    assert variants["wise-val"]["finetune"]["interpolate"]["ratio"] == 0.5
    assert variants["paper"]["task"]["arith"]["evaluate_on"] == "test"
    keys = {name: sharing.stage_keys(cfg) for name, cfg in variants.items()}
    for path, key in keys["wise"].items():
        same = key == keys["wise-val"][path]
        evaluation = path.startswith("data/test") or "/eval/" in path
        assert same != evaluation, path        # the same training, another evaluation
    assert sharing.partners(variants) == {"paper": "paper", "wise": "paper", "paper-val": "paper-val",
                                             "wise-val": "paper-val"}


@pytest.mark.parametrize("exp, base, message", [
    ({"variants": [{"name": "a"}, {"name": "a-val"}]}, BASE, "the twin of 'a' would be named 'a-val'"),
    ({"variants": [{"name": "a"}]}, {**BASE, "task": {"name": "gsm8k"}}, "only the built-in task"),
])
def test_bad_validation_twins(exp, base, message):
    with pytest.raises(ConfigError, match=message):
        _expand({"name": "x", "reference": "a", "validation": True, **exp}, base)


@pytest.mark.slow
def test_a_tiny_two_variant_experiment_end_to_end(tmp_path):
    three = {**TWO, "variants": TWO["variants"] + [{"name": "evaln", "set": {"eval.n": 2}}]}
    run = snakemake(tmp_path, {**TINY, "experiment": three})
    assert run.returncode == 0, run.stderr[-3000:]
    ref, wise = tmp_path / "results/tiny/ref", tmp_path / "results/tiny/wise"
    # round 1's think is computed once and linked; the fine-tuned models differ (WiSE-FT mixes in model 0)
    link = wise / "round_1/prune/sft_train.parquet"
    assert link.is_symlink() and link.resolve() == (ref / "round_1/prune/sft_train.parquet").resolve()
    assert not (wise / "round_1/think/shards").exists()   # nor its samples: only what wise's steps read is linked
    assert (wise / "models/round_0").is_symlink() and not (wise / "models/round_1").is_symlink()
    import torch
    from safetensors.torch import load_file

    w0, w1, r1 = (load_file(str(p / "model.safetensors")) for p in (ref / "models/round_0", wise / "models/round_1",
                                                                    ref / "models/round_1"))
    name = next(k for k in w0 if k.endswith("mlp.down_proj.weight"))
    assert not torch.equal(w1[name], r1[name]) and not torch.equal(w1[name], w0[name])

    # every variant's cost counts every job its results depend on: its own and those it shares, marked with the
    # variant that ran them (the same jobs as ref's, with ref's figures)
    costs = {v: artifacts.read(str(tmp_path / f"results/tiny/{v}/report/cost.parquet"), artifacts.COST)
             .set_index(["round", "stage"]) for v in ("ref", "wise", "evaln")}
    for v in ("wise", "evaln"):
        assert set(costs[v].index) == set(costs["ref"].index), v
        shared = costs[v][costs[v]["ran_by"] == "ref"]
        assert (shared["wall_s"] == costs["ref"].loc[shared.index, "wall_s"]).all()
        assert (costs["ref"]["ran_by"] == "").all()
    assert {(1, "generate_think"), (1, "prune"), (0, "base_model")} <= set(
        costs["wise"][costs["wise"]["ran_by"] == "ref"].index)
    assert costs["wise"].loc[(1, "finetune"), "ran_by"] == "" and costs["evaln"].loc[(1, "finetune"), "ran_by"] == "ref"
    assert "shared: run by variant ref" in (wise / "report/summary.md").read_text()
    # the model that ref and evaln share has a card naming both, and what evaln sets otherwise
    shared_card = (tmp_path / "results/tiny/comparison/model_cards/ref_round_1.md").read_text()
    assert "| evaln | `eval.n`: 3 -> 2 |" in shared_card and "| ref | (the owner) |" in shared_card

    table = pd.read_parquet(tmp_path / "results/tiny/comparison/table.parquet")
    assert (table.set_index(["variant", "round"]).loc[("evaln", 1), "ran_by"] == "ref")
    table = table[table["variant"] != "evaln"]
    assert sorted(zip(table["variant"], table["round"])) == [("ref", 0), ("ref", 1), ("wise", 0), ("wise", 1)]
    row0 = table.set_index(["variant", "round"])
    assert row0.loc[("ref", 0), "pass@1"] == row0.loc[("wise", 0), "pass@1"]      # the same round 0
    m = artifacts.read(str(wise / "round_1/eval/metrics.parquet"), artifacts.METRICS)
    assert row0.loc[("wise", 1), "pass@1"] == m[(m.metric == "pass@k_strict") & (m.k == 1)]["value"].item()
    assert row0.loc[("wise", 1), "samples"] == 4 * 2 + 3 * 3 and row0.loc[("wise", 1), "wall_s"] > 0
    text = (tmp_path / "results/tiny/comparison/table.md").read_text()
    assert "| wise | 1 |" in text and "paired by test problem" in text
    assert (tmp_path / "results/tiny/comparison/pass1.png").read_bytes()[:4] == b"\x89PNG"
    assert (wise / "report/summary.md").exists()

    # the comparison is in the HTML report too
    html = snakemake(tmp_path, {**TINY, "experiment": three}, "--report", str(tmp_path / "report.html"))
    assert html.returncode == 0, html.stderr[-3000:]
    assert "comparison/table.md" in (tmp_path / "report.html").read_text()


# ---- Replicates (experiment.replicates): the same variants with several run seeds

REPLICATED = {"name": "x", "reference": "paper", "replicates": 2,
              "variants": [{"name": "paper"}, {"name": "wise", "set": {"finetune.interpolate.ratio": 0.5}}]}


def test_replicates_expand_into_seeds_that_share_what_the_seed_does_not_change():
    _, _, variants = _expand(REPLICATED)
    assert list(variants) == ["paper/seed_0", "paper/seed_1", "wise/seed_0", "wise/seed_1"]
    assert variants["wise/seed_1"]["results"] == "results/x/wise/seed_1"
    assert [v["seed"] for v in variants.values()] == [0, 1, 0, 1]
    assert variants["wise/seed_1"]["finetune"]["interpolate"]["ratio"] == 0.5
    assert experiment.replicate_of("wise/seed_1") == ("wise", 1) and experiment.replicate_of("wise") == ("wise", None)
    keys = {name: sharing.stage_keys(cfg) for name, cfg in variants.items()}
    a, b = keys["paper/seed_0"], keys["paper/seed_1"]
    # the problems and the base model do not depend on the run's seed; every sample, draw and fine-tune does
    for path in ("data/test.parquet", "data/train.parquet", "models/round_0"):
        assert a[path] == b[path] == keys["wise/seed_1"][path], path
    for path in ("round_0/eval/samples.parquet", "round_1/think/samples.parquet", "round_1/prune/sft_train.parquet",
                 "models/round_1"):
        assert a[path] != b[path], path
    # within a seed the variants share as without replicates
    assert keys["wise/seed_1"]["round_1/prune/sft_train.parquet"] == b["round_1/prune/sft_train.parquet"]
    assert keys["wise/seed_1"]["models/round_1"] != b["models/round_1"]
    # each replicate is compared with the reference's replicate of its seed
    assert sharing.partners(variants) == {"paper/seed_0": "paper/seed_0", "paper/seed_1": "paper/seed_1",
                                          "wise/seed_0": "paper/seed_0", "wise/seed_1": "paper/seed_1"}


def test_replicates_as_a_list_of_seeds_with_validation_twins():
    _, _, variants = _expand({**REPLICATED, "replicates": [7, 3], "validation": True})
    assert list(variants) == [f"{v}/seed_{s}" for v in ("paper", "wise", "paper-val", "wise-val") for s in (7, 3)]
    assert variants["wise-val/seed_3"]["seed"] == 3
    assert variants["wise-val/seed_3"]["task"]["arith"]["evaluate_on"] == "validation"
    assert sharing.partners(variants)["wise-val/seed_3"] == "paper-val/seed_3"
    # the base seed is the run's: replicates: 2 over seed 5 are seeds 5 and 6
    _, _, variants = _expand(REPLICATED, {**BASE, "seed": 5})
    assert list(variants)[:2] == ["paper/seed_5", "paper/seed_6"]


@pytest.mark.parametrize("exp, message", [
    ({"replicates": 0}, r"experiment.replicates=0: give at least 1 seed"),
    ({"replicates": [1, 2, 1]}, r"seed\(s\) \[1\] listed twice"),
    ({"replicates": []}, "give a non-empty list of seeds"),
    ({"replicates": [1, -2]}, "give a non-empty list of seeds"),
    ({"replicates": "three"}, "give a number of seeds"),
    ({"replicates": True}, "give a number of seeds"),
    ({"replicates": 2, "variants": [{"name": "paper"}, {"name": "s", "set": {"seed": 3}}]},
     "variant 's': sets seed, which experiment.replicates sets"),
    ({"replicates": 2, "variants": [{"name": "paper"}, {"name": "a-b"}, {"name": "a_b"}]},
     "'a-b/seed_0' and 'a_b/seed_0' differ only in"),
    ({"claim_stderrs": 0}, "experiment.claim_stderrs=0: give a positive number"),
    ({"claim_stderrs": "two"}, "experiment.claim_stderrs='two'"),
])
def test_bad_replicates_say_what_to_fix(exp, message):
    with pytest.raises(ConfigError, match=message):
        _expand({**REPLICATED, **exp})


def test_replicates_share_the_base_model_and_problems_on_the_dag(tmp_path):
    exp = {**TWO, "replicates": 2}
    jobs = _dry_run_jobs(tmp_path, {**TINY, "experiment": exp})
    rules = list(jobs.values())
    # one base model and one set of problems for all four runs; round 0 evaluated once per seed (wise shares it)
    assert rules.count("v_ref_seed_0_base_model") == 1 and not any(
        r.endswith("_base_model") for r in rules if r != "v_ref_seed_0_base_model")
    assert jobs["results/tiny/ref/seed_1/models/round_0"] == "share_folder"
    assert jobs["results/tiny/ref/seed_1/round_0/eval/samples.parquet"] == "v_ref_seed_1_gather_samples"
    assert jobs["results/tiny/wise/seed_1/round_0/eval/metrics.parquet"] == "share"
    assert jobs["results/tiny/wise/seed_1/models/round_1"] == "v_wise_seed_1_finetune"
    assert jobs["results/tiny/comparison/table.md"] == "experiment_report"


def test_the_crossed_standard_error_against_a_direct_computation():
    d = np.array([[0.0, 1.0, -1.0, 0.5],   # seed 0: per-problem differences
                  [1.0, 1.0, 0.0, 0.5],    # seed 1
                  [0.5, 0.0, 0.0, 1.0]])   # seed 2
    seed_means, problem_means = [0.125, 0.625, 0.375], [0.5, 2 / 3, -1 / 3, 2 / 3]
    seed_term = np.var(seed_means, ddof=1) / 3
    problem_term = np.var(problem_means, ddof=1) / 4
    assert compare.crossed_stderr(d) == pytest.approx((seed_term, problem_term, np.sqrt(seed_term + problem_term)))
    one = compare.crossed_stderr(d[:1])
    assert np.isnan(one[0]) and np.isnan(one[2]) and one[1] == pytest.approx(np.var(d[0], ddof=1) / 4)


def test_the_claim_rule():
    assert compare.verdict(0.05, 0.02, 2) == "better" and compare.verdict(0.03, 0.02, 2) == "not distinguishable"
    assert compare.verdict(0.03, 0.02, 1) == "better" and compare.verdict(-0.05, 0.02, 2) == "worse"
    assert compare.verdict(0.5, float("nan"), 2) == "one seed: no claim"


def _verdicts(correct):
    """VERDICTS of problems p0, p1, ... with these samples' correct_strict: {problem: [bool, ...]}."""
    rows = [(p, c) for p, cs in correct.items() for c in cs]
    return pd.DataFrame({"problem_id": [p for p, _ in rows], "correct_strict": [c for _, c in rows]})


def test_paired_difference_over_seeds_against_a_direct_computation():
    ref = {0: {"p0": [1, 0], "p1": [0, 0], "p2": [1, 1]}, 1: {"p0": [1, 1], "p1": [0, 1], "p2": [0, 0]}}
    var = {0: {"p0": [1, 1], "p1": [1, 0], "p2": [1, 1]}, 1: {"p0": [1, 1], "p1": [1, 1], "p2": [1, 0]}}
    pairs = {}
    for s in (0, 1):
        r, v = (_verdicts({p: [bool(x) for x in c] for p, c in d[s].items()}) for d in (ref, var))
        pairs[f"ref/seed_{s}"] = (2, r, f"ref/seed_{s}", r)
        pairs[f"var/seed_{s}"] = (2, v, f"ref/seed_{s}", r)
    out = compare.paired_over_seeds(pairs, 2).set_index("variant")
    # Pass@1: per seed and problem, the share correct minus the reference's
    d1 = np.array([[1 - 0.5, 0.5 - 0, 1 - 1], [1 - 1, 1 - 0.5, 0.5 - 0]])
    dn = np.array([[1 - 1, 1 - 0, 1 - 1], [1 - 1, 1 - 1, 1 - 0]])     # Pass@n: any sample correct
    row = out.loc["var"]
    assert (row["round"], row["against"], row["seeds"], row["problems"]) == (2, "ref", 2, 3)
    assert row["pass@1_diff"] == pytest.approx(d1.mean()) and row["pass@n_diff"] == pytest.approx(dn.mean())
    se = np.sqrt(np.var(d1.mean(axis=1), ddof=1) / 2 + np.var(d1.mean(axis=0), ddof=1) / 3)
    assert row["pass@1_stderr"] == pytest.approx(se)
    assert row["pass@1_verdict"] == compare.verdict(d1.mean(), se, 2)
    assert out.loc["ref", "pass@1_diff"] == 0 and out.loc["ref", "pass@1_verdict"] == "(the reference)"
    text = compare.markdown_over_seeds(pd.DataFrame(), out.reset_index(), "ref", 2)
    assert f"| var | 2 | ref | 2 | {100 * d1.mean():+.1f} | {100 * se:.1f} (" in text
    with pytest.raises(ValueError, match="'var' .seed 1. and 'ref' were evaluated on different problems"):
        short = pairs["var/seed_1"][1]
        compare.paired_over_seeds({**pairs, "var/seed_1": (2, short[short.problem_id != "p2"], "ref/seed_1",
                                                           pairs["ref/seed_1"][1])}, 2)


def test_over_seeds_gives_the_mean_and_spread_of_each_variant_and_round():
    rows = [{"variant": f"{v}/seed_{s}", "round": r, "pass@1": p1, "pass@n": pn, "n": 4, "coverage": 0.5,
             "distinct_correct": 1.0, "think_coverage": float("nan"), "sft_examples": 10.0 * s, "sft_distinct": 3.0,
             "samples": 12, "wall_s": 100.0 + s}
            for v, s, r, p1, pn in [("a", 0, 0, 0.5, 0.8), ("a", 1, 0, 0.7, 0.9), ("a", 2, 0, 0.6, 1.0),
                                    ("b", 0, 0, 0.4, 0.8)]]
    out = compare.over_seeds(pd.DataFrame(rows)).set_index("variant")
    assert out.loc["a", "seeds"] == 3 and out.loc["b", "seeds"] == 1
    assert out.loc["a", "pass@1"] == pytest.approx(0.6) and out.loc["a", "pass@1_sd"] == pytest.approx(0.1)
    assert (out.loc["a", "pass@n_min"], out.loc["a", "pass@n_max"]) == (0.8, 1.0)
    assert out.loc["a", "sft_examples"] == pytest.approx(10.0) and out.loc["a", "wall_s"] == pytest.approx(101.0)
    assert np.isnan(out.loc["b", "pass@1_sd"])
    text = compare.markdown_over_seeds(out.reset_index(), pd.DataFrame(), "a", 2)
    assert "| a | 0 | 3 | 60.0 ± 10.0 [50.0, 70.0] | 90.0 ± 10.0 [80.0, 100.0] (n=4) |" in text
    assert "| b | 0 | 1 | 40.0 ± - [40.0, 40.0] |" in text


@pytest.mark.slow
def test_a_tiny_experiment_with_replicates_end_to_end(tmp_path):
    run = snakemake(tmp_path, {**TINY, "experiment": {**TWO, "replicates": 2}})
    assert run.returncode == 0, run.stderr[-3000:]
    out = tmp_path / "results/tiny"
    assert (out / "ref/seed_1/models/round_0").is_symlink() and not (out / "ref/seed_1/models/round_1").is_symlink()
    table = pd.read_parquet(out / "comparison/table.parquet")   # every replicate's rows
    assert sorted(set(table["variant"])) == ["ref/seed_0", "ref/seed_1", "wise/seed_0", "wise/seed_1"]
    m = artifacts.read(str(out / "wise/seed_1/round_1/eval/metrics.parquet"), artifacts.METRICS)
    row = table.set_index(["variant", "round"]).loc[("wise/seed_1", 1)]
    assert row["pass@1"] == m[(m.metric == "pass@k_strict") & (m.k == 1)]["value"].item()
    text = (out / "comparison/table.md").read_text()
    mean = table[table["round"] == 1].groupby(table["variant"].str.split("/").str[0])["pass@1"].mean()
    assert f"| wise | 1 | 2 | {100 * mean['wise']:.1f} ± " in text and "| ref | 1 | ref | 2 | +0.0 |" in text
    assert re.search(r"\| wise \| 1 \| ref \| 2 \| [-+]\d+\.\d \| [\d.]+ \(.*\| (better|worse|not distinguishable) \|",
                     text), text
    assert (out / "comparison/pass1.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "comparison/model_cards").is_dir()
