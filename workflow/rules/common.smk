# Paths of every artifact, the round helpers and the config check: the one place they are spelled out.
import json
import os
import shlex
import sys

from snakemake.utils import validate
from snakemake_interface_executor_plugins.settings import DeploymentMethod

from tpt import tasks
from tpt.config import check

validate(config, "../schemas/config.schema.yaml")
check(config)

# a dress rehearsal (tpt.rehearsal): the config becomes its miniature run, config["rehearsal"] its sizes
REHEARSAL = config["rehearsal"] not in (False, "false")  # --config rehearsal=true gives the string "true"
if REHEARSAL:
    from tpt import rehearsal

    rehearsal.apply(config)

R = config["results"]
BUILTIN = config["model"]["base"] == "builtin"
LOCAL_BASE = BUILTIN or REHEARSAL  # the base model is made by rule base_model (the tiny one, or a miniature)
CODE_TASK = tasks.is_code(tasks.from_config(config["task"]))  # scored by running programs: the judge self-tests first
SPLIT = {"think": "train", "eval": "test"}  # which problems each generation phase samples


wildcard_constraints:
    round=r"\d+",
    phase="think|eval",
    shard=r"\d+",
    split="train|test",


# Software: with --sdm conda each job runs in the environment of its family (envs/*.yaml: third-party packages
# with the pins of pyproject.toml); tpt itself comes from the workflow's src/ (see the Snakefile). A `shell:`
# command starts its Python as JOB_PYTHON: the environment's own `python` with src/ on PYTHONPATH under conda,
# else the Python that runs Snakemake.
CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
SRC = os.path.join(workflow.basedir, "src")
JOB_PYTHON = f"env PYTHONPATH={shlex.quote(SRC)} python" if CONDA else shlex.quote(sys.executable)


def conda_env(family, gpu_job=None):
    """The environment file of a family of jobs, envs/<family>.yaml; with gpu_job, its -gpu variant when
    config["resources"][gpu_job] asks for GPUs, else its -cpu variant."""
    if gpu_job is not None:
        family += "-gpu" if config["resources"][gpu_job]["gpu"] else "-cpu"
    return f"../../envs/{family}.yaml"  # relative to the file of the rule, as Snakemake reads it


def job_resources(rule):
    """The resources of a GPU-capable job, from config["resources"][rule]. Memory and runtime grow with the retry
    attempt (a job killed for memory or time gets more the next time); unset keys are left to the profile."""
    res = config["resources"][rule]
    out = {
        "mem_mb": lambda wildcards, attempt: res["mem_mb"] * attempt,
        "runtime": lambda wildcards, attempt: res["runtime"] * attempt,
    }
    nodes = res.get("nodes", 1)  # only finetune trains over several nodes
    if nodes > 1:
        # sbatch --nodes=M --ntasks=M: one task per node, for the srun in the rule's command (tpt.launch); `mpi`
        # makes the jobstep executor run that command as it is, not inside `srun -n1`. GPUs are asked per node
        # with --gres=gpu[:<model>]:N (--gpus counts the whole job's); the plugin takes gres or gpu, not both.
        out.update(nodes=nodes, tasks=nodes, mpi="srun")
        if res["gpu"]:
            out["gres"] = ":".join(["gpu"] + ([res["gpu_model"]] if res["gpu_model"] else []) + [str(res["gpu"])])
            out["tasks_per_gpu"] = 0  # else the plugin adds --ntasks-per-gpu=<tasks>
    else:
        if res["gpu"]:
            out["gpu"] = res["gpu"]
            # one task owns all of the job's GPUs (the SLURM plugin's default is --ntasks-per-gpu=1)
            out["tasks_per_gpu"] = 0
        if res["gpu_model"]:
            out["gpu_model"] = res["gpu_model"]
    if res["slurm_partition"]:
        out["slurm_partition"] = res["slurm_partition"]
    return out


# ---- Paths. Every file a run writes is named here, once. A helper's round, phase, split or shard defaults to the
# wildcard of that name ("{round}"...), so a rule's output is e.g. samples_path() and an input of round 2's eval is
# samples_path(2, "eval"). `results` is the run's results folder; an experiment passes a variant's.


def problems_path(split="{split}", results=R):
    return f"{results}/data/{split}.parquet"


def problem_checks_path(split="{split}", results=R):
    """What the known solutions of a split's problems did in the judge (task.validate; empty if off)."""
    return f"{results}/data/{split}_checks.parquet"


def model_dir(round_="{round}", results=R):
    """The model of a round (HF format); round 0's is the built-in task's base model."""
    return f"{results}/models/round_{round_}"


def shard_path(round_="{round}", phase="{phase}", shard="{shard}", results=R):
    """One generate job's samples: a shard of a phase's problems."""
    return f"{results}/round_{round_}/{phase}/shards/samples_{shard}.parquet"


def samples_path(round_="{round}", phase="{phase}", results=R):
    """A phase's samples (SAMPLES), joined from its shards."""
    return f"{results}/round_{round_}/{phase}/samples.parquet"


def verdicts_path(round_="{round}", phase="{phase}", results=R):
    return f"{results}/round_{round_}/{phase}/verdicts.parquet"


def metrics_path(round_="{round}", phase="{phase}", results=R):
    """eval: the round's METRICS on the test problems; think: the think metrics on the train problems."""
    return f"{results}/round_{round_}/{phase}/metrics.parquet"


def sft_path(round_="{round}", part="train", results=R):
    """The round's pruned training set (SFT); part "val" is the held-out validation set."""
    return f"{results}/round_{round_}/prune/sft_{part}.parquet"


def training_curve_path(round_="{round}", results=R):
    """The fine-tune's losses (TRAINING_CURVE), beside its log."""
    return f"{results}/logs/round_{round_}/finetune_loss.parquet"


def scratch_dir(name, results=R):
    """Checkpoints of a training job (outside its declared output, which Snakemake deletes before a rerun)."""
    return f"{results}/scratch/{name}"


def report_path(name, results=R):
    return f"{results}/report/{name}"


def model_card_path(round_, results=R):
    """The report's model card of a round: the model's README.md with the round's metrics."""
    return report_path(f"model_cards/round_{round_}.md", results)


def experiment_path(experiment, name):
    """A file of an experiment itself (its comparison, its log), beside its variants' folders."""
    return f"{R}/{experiment}/{name}"


def log_path(name, round_=None):
    """A job's log: <results>/logs/<name>.log, or logs/round_<r>/<name>.log for a job of a round."""
    return f"{R}/logs/{name}.log" if round_ is None else f"{R}/logs/round_{round_}/{name}.log"


BENCHMARKS = f"{R}/benchmarks"  # every job's benchmark: file (wall and CPU time, memory), read by the report


def benchmark_path(name, round_=None):
    """A job's benchmark file, named like its log."""
    return f"{BENCHMARKS}/{name}.tsv" if round_ is None else f"{BENCHMARKS}/round_{round_}/{name}.tsv"


JUDGE_SELFTEST = f"{R}/judge/selftest.txt"  # code tasks: the judge's self-test passed (rule judge_selftest)


def model_of(round_):
    """The model of round r: the base model for r = 0, else the one fine-tuned in round r."""
    round_ = int(round_)
    if round_ == 0:
        return model_dir(0) if LOCAL_BASE else config["model"]["base"]
    return model_dir(round_)


def model_input(round_):
    """model_of(round) as an input of a job: a hub id is no file, so it is no input."""
    path = model_of(round_)
    return [path] if int(round_) > 0 or LOCAL_BASE or os.path.exists(path) else []


def generation_model(wildcards):
    """Think samples from the previous round's model; eval samples from this round's model."""
    round_ = int(wildcards.round)
    if wildcards.phase == "think" and round_ == 0:
        raise ValueError("round 0 has no think phase: round 0 only evaluates the base model")
    return round_ - 1 if wildcards.phase == "think" else round_


def finetune_init(wildcards):
    return 0 if config["finetune"]["init"] == "base" else int(wildcards.round) - 1


def earlier_sft(wildcards):
    """prune.accumulate: the previous round's training set (which holds the rounds before it), from round 2 on."""
    round_ = int(wildcards.round)
    return [sft_path(round_ - 1)] if config["prune"]["accumulate"] and round_ > 1 else []


def interpolate_with(wildcards):
    """finetune.interpolate.with: the round whose model the fine-tuned weights are averaged with (WiSE-FT)."""
    return 0 if config["finetune"]["interpolate"]["with"] == "base" else int(wildcards.round) - 1


WISE = config["finetune"]["interpolate"]["ratio"] < 1  # weight interpolation after each fine-tune


def model_card_info(round_):
    """What a round's model card (tpt.card) says of the run, as JSON for the finetune command."""
    keys = {
        "base_model": config["model"]["base"],
        "round": int(round_),
        "task": config["task"]["name"],
        "think": config["think"],
        "prune": config["prune"],
        "criterion": config["verify"]["criterion"],
        "seed": config["seed"],
    }
    return json.dumps(keys, sort_keys=True)


REPORT_FILES = [  # the report's files that `all` asks for (the report rule's outputs, less the model cards)
    "summary.parquet",
    "summary.md",
    "pass1.png",
    "passk.png",
    "solve_rate.png",
    "diversity.parquet",
    "training_loss.png",
    "cost.parquet",
    "cost.html",
    "cost.png",
]


REHEARSAL_SUMMARY = f"{R}/rehearsal.md"  # what a rehearsal checked and how long each stage took


def report_outputs():
    return [report_path(name) for name in REPORT_FILES] + ([REHEARSAL_SUMMARY] if REHEARSAL else [])
