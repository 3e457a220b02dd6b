"""Where a run writes each file: one function per artifact, the one place their paths are spelled.

`results` is the run's results folder (the config's `results`: `results/` by default, a preset's own folder, or an
experiment variant's). The workflow's rules take these through workflow/rules/common.smk, which only adds
Snakemake's wildcards as defaults ("{round}", ...); the report, the comparison, the estimate and the model cards
call them directly. A round, phase, split or shard argument may be a value (2, "eval") or a wildcard pattern
("{round}", "*").
"""
import os


def problems(results, split):
    """A split's problems (PROBLEMS)."""
    return f"{results}/data/{split}.parquet"


def problem_checks(results, split):
    """What the known solutions of a split's problems did in the judge (PROBLEM_CHECKS; task.validate)."""
    return f"{results}/data/{split}_checks.parquet"


def model_dir(results, round_):
    """The model of a round (HF format); round 0's is the built-in task's base model."""
    return f"{results}/models/round_{round_}"


def shard(results, round_, phase, shard_):
    """One generate job's samples: a shard of a phase's problems."""
    return f"{results}/round_{round_}/{phase}/shards/samples_{shard_}.parquet"


def samples(results, round_, phase):
    """A phase's samples (SAMPLES), joined from its shards."""
    return f"{results}/round_{round_}/{phase}/samples.parquet"


def verdicts(results, round_, phase):
    """A phase's verdicts (VERDICTS)."""
    return f"{results}/round_{round_}/{phase}/verdicts.parquet"


def metrics(results, round_, phase):
    """eval: the round's METRICS on the test problems; think: the think metrics on the train problems."""
    return f"{results}/round_{round_}/{phase}/metrics.parquet"


def probe(results, round_):
    """think.auto_temperature: the round's probe of the think temperatures and the one chosen (PROBE)."""
    return f"{results}/round_{round_}/think/probe.parquet"


def probe_samples(results, round_):
    """The samples of a round's probe (SAMPLES, phase "probe"): sample index k x think.n + i was drawn at the
    grid's k-th temperature."""
    return f"{results}/round_{round_}/think/probe_samples.parquet"


def sft(results, round_, part="train"):
    """The round's pruned training set (SFT); part "val" is the held-out validation set."""
    return f"{results}/round_{round_}/prune/sft_{part}.parquet"


def logs(results):
    """Every job's log (its round's subfolder for a job of a round)."""
    return f"{results}/logs"


def log(results, name, round_=None):
    """A job's log: <results>/logs/<name>.log, or logs/round_<r>/<name>.log for a job of a round."""
    return f"{logs(results)}/{name}.log" if round_ is None else f"{logs(results)}/round_{round_}/{name}.log"


def training_curve(results, round_):
    """The fine-tune's losses (TRAINING_CURVE), beside its log."""
    return f"{logs(results)}/round_{round_}/finetune_loss.parquet"


def benchmarks(results):
    """Every job's Snakemake `benchmark:` file (wall and CPU time, memory), read by the report's cost table."""
    return f"{results}/benchmarks"


def benchmark(results, name, round_=None):
    """A job's benchmark file, named like its log."""
    return f"{benchmarks(results)}/{name}.tsv" if round_ is None else f"{benchmarks(results)}/round_{round_}/{name}.tsv"


def scratch_dir(results, name, round_=None):
    """Checkpoints of a training job (outside its declared output, which Snakemake deletes before a rerun):
    scratch/<name>, or scratch/<name>/round_<r> for a job of a round."""
    return f"{results}/scratch/{name}" if round_ is None else f"{results}/scratch/{name}/round_{round_}"


def judge_selftest(results):
    """Code tasks: the judge's self-test passed (rule judge_selftest)."""
    return f"{results}/judge/selftest.txt"


def report(results, name):
    """A file of the run's report (summary.md, cost.parquet, the plots, ...)."""
    return f"{results}/report/{name}"


def model_card(results, round_):
    """The report's model card of a round: the model's README.md with the round's metrics."""
    return report(results, f"model_cards/round_{round_}.md")


def variant(results, name, variant_, seed=None):
    """The results folder of an experiment's variant, or of one of its replicates (experiment.replicates)."""
    return f"{results}/{name}/{variant_}" + (f"/seed_{seed}" if seed is not None else "")


def experiment(results, name, file):
    """A file of an experiment itself (its comparison, its log), beside its variants' folders."""
    return f"{results}/{name}/{file}"


def rehearsal_summary(results):
    """What a rehearsal checked and how long each stage took (tpt.rehearsal)."""
    return f"{results}/rehearsal.md"


def experiment_log(results, name, rule):
    """The log of an experiment's own job (its comparison)."""
    return experiment(results, name, f"logs/{rule}.log")


def relative(path, results):
    """A path of these functions relative to its results folder (how an experiment names a variant's artifact)."""
    return os.path.relpath(path, results)
