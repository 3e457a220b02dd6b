"""The stages of a run, in their order: one list that the cost table, the experiment comparison, the report and the
benchmarks read.

A stage is a kind of job: `name` is its log and benchmark file's name (without the shard number of a sharded job:
generate_think_0.tsv is generate_think), `rule` the workflow rule that runs it, `gpu` whether the rule can ask
for GPUs (its `resources.<rule>` section of the config says how many), `round` which rounds it runs in, and
`writes(results, round)` the artifacts it makes (tpt.paths).

round: None for run-wide jobs (their files are at the top of logs/ and benchmarks/), 0 for the base model (run-wide
files, counted as round 0's), "trained" for the rounds that think, prune and fine-tune (1, 2, ...) and "every" for
every round from 0 (evaluation); the files of these two are under round_<r>/.
"""
from collections import namedtuple

from tpt import paths

Stage = namedtuple("Stage", ["name", "rule", "gpu", "round", "sharded", "writes"])

# The report's files that `all` asks for (the report rule's outputs, less the model cards)
REPORT_FILES = ("summary.parquet", "summary.md", "pass1.png", "passk.png", "solve_rate.png", "diversity.parquet",
                "training_loss.png", "cost.parquet", "cost.html", "cost.png")

STAGES = (
    Stage("problems_train", "problems", False, None, False, lambda res, r: [paths.problems(res, "train")]),
    Stage("problems_test", "problems", False, None, False, lambda res, r: [paths.problems(res, "test")]),
    Stage("judge_selftest", "judge_selftest", False, None, False, lambda res, r: [paths.judge_selftest(res)]),
    Stage("base_model", "base_model", True, 0, False, lambda res, r: [paths.model_dir(res, 0)]),
    Stage("generate_think", "generate", True, "trained", True, lambda res, r: [paths.samples(res, r, "think")]),
    Stage("verify_think", "verify", False, "trained", False, lambda res, r: [paths.verdicts(res, r, "think")]),
    Stage("prune", "prune", False, "trained", False,
          lambda res, r: [paths.sft(res, r, "train"), paths.sft(res, r, "val")]),
    Stage("think_metrics", "think_metrics", False, "trained", False, lambda res, r: [paths.metrics(res, r, "think")]),
    Stage("finetune", "finetune", True, "trained", False, lambda res, r: [paths.model_dir(res, r)]),
    Stage("generate_eval", "generate", True, "every", True, lambda res, r: [paths.samples(res, r, "eval")]),
    Stage("verify_eval", "verify", False, "every", False, lambda res, r: [paths.verdicts(res, r, "eval")]),
    Stage("eval_metrics", "eval_metrics", False, "every", False, lambda res, r: [paths.metrics(res, r, "eval")]),
    Stage("report", "report", False, None, False, lambda res, r: [paths.report(res, f) for f in REPORT_FILES]),
)
BY_NAME = {s.name: s for s in STAGES}


def of_round(round_):
    """The stages whose jobs make a round: round 0's are the base model and its evaluation."""
    return [s for s in STAGES if s.round == "every" or (s.round == 0 if round_ == 0 else s.round == "trained")]


def benchmark_files(stage, results, round_):
    """The glob pattern of a stage's benchmark files for a round (every shard of a sharded stage)."""
    name = stage.name + ("_*" if stage.sharded else "")
    return paths.benchmark(results, name, round_ if stage.round in ("trained", "every") else None)


def gpus(stage_name, resources):
    """GPUs a job of a stage asked for, from the config's resources section (nodes x GPUs for the fine-tune); 0
    for a CPU stage or a name that is no stage."""
    stage = BY_NAME.get(stage_name)
    if stage is None or not stage.gpu:
        return 0
    res = resources.get(stage.rule, {})
    return int(res.get("gpu", 0)) * int(res.get("nodes", 1))
