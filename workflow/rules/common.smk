# Paths of every artifact, the round helpers and the config check: the one place they are spelled out.
import os

from snakemake.utils import validate

from tpt import tasks
from tpt.config import check

validate(config, "../schemas/config.schema.yaml")
check(config)

R = config["results"]
BUILTIN = config["model"]["base"] == "builtin"
CODE_TASK = config["task"]["name"] in tasks.CODE_TASKS  # scored by running programs: the judge self-tests first
JUDGE_SELFTEST = f"{R}/judge/selftest.txt"
SPLIT = {"think": "train", "eval": "test"}  # which problems each generation phase samples


wildcard_constraints:
    round=r"\d+",
    phase="think|eval",
    shard=r"\d+",
    split="train|test",


def job_resources(rule):
    """The resources of a GPU-capable rule from config["resources"][rule]: memory and runtime grow with the retry
    attempt (a job killed for memory or time gets more the next time); unset keys are left to the profile."""
    res = config["resources"][rule]
    out = {"mem_mb": lambda wildcards, attempt: res["mem_mb"] * attempt,
           "runtime": lambda wildcards, attempt: res["runtime"] * attempt}
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


def problems_path(split):
    return f"{R}/data/{split}.parquet"


def problem_checks_path(split):
    """What the known solutions of a split's problems did in the judge (task.validate; empty if off)."""
    return f"{R}/data/{split}_checks.parquet"


def model_dir(round_):
    return f"{R}/models/round_{round_}"


def model_of(round_):
    """The model of round r: the base model for r = 0, else the one fine-tuned in round r."""
    round_ = int(round_)
    if round_ == 0:
        return model_dir(0) if BUILTIN else config["model"]["base"]
    return model_dir(round_)


def model_input(round_):
    """model_of(round) as a rule input: a hub id is no file, so it is no input."""
    path = model_of(round_)
    return [path] if int(round_) > 0 or BUILTIN or os.path.exists(path) else []


def generation_model(wildcards):
    """Think samples from the previous round's model; eval samples from this round's model."""
    round_ = int(wildcards.round)
    if wildcards.phase == "think" and round_ == 0:
        raise ValueError("round 0 has no think phase: round 0 only evaluates the base model")
    return round_ - 1 if wildcards.phase == "think" else round_


def finetune_init(wildcards):
    return 0 if config["finetune"]["init"] == "base" else int(wildcards.round) - 1


def report_outputs():
    return [f"{R}/report/{name}" for name in ("summary.parquet", "summary.md", "pass1.png", "passk.png",
                                               "solve_rate.png")]
