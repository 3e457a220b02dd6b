# The artifact path helpers (over tpt.paths), the round helpers and the config check.
import json
import os
import shlex
import sys

from snakemake.utils import validate
from snakemake_interface_executor_plugins.settings import DeploymentMethod

from tpt import paths, scheduling, stages, tasks
from tpt.config import check

# Snakemake's scheduling loop, woken once per pending timer: keep one (tpt.scheduling says why)
scheduling.coalesce_reevaluations()

validate(config, "../schemas/config.schema.yaml")
check(config)

# a dress rehearsal (tpt.rehearsal): the config becomes its miniature run, config["rehearsal"] its sizes
REHEARSAL = config["rehearsal"] not in (False, "false")  # --config rehearsal=true gives the string "true"
FAMILY = None  # a rehearsal's family files (tpt.rehearsal.family): what its miniature is made of, and from where
if REHEARSAL:
    from tpt import rehearsal

    FAMILY = rehearsal.apply(config)

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


# ---- Paths: every file a run writes is named in tpt.paths, once; these helpers only give its arguments Snakemake's
# wildcards as defaults ("{round}"...), so a rule's output is e.g. samples_path() and an input of round 2's eval is
# samples_path(2, "eval"). `results` is the run's results folder; an experiment passes a variant's.


def problems_path(split="{split}", results=R):
    return paths.problems(results, split)


def problem_checks_path(split="{split}", results=R):
    return paths.problem_checks(results, split)


def model_dir(round_="{round}", results=R):
    return paths.model_dir(results, round_)


def shard_path(round_="{round}", phase="{phase}", shard="{shard}", results=R):
    return paths.shard(results, round_, phase, shard)


def samples_path(round_="{round}", phase="{phase}", results=R):
    return paths.samples(results, round_, phase)


def verdicts_path(round_="{round}", phase="{phase}", results=R):
    return paths.verdicts(results, round_, phase)


def metrics_path(round_="{round}", phase="{phase}", results=R):
    return paths.metrics(results, round_, phase)


def probe_path(round_="{round}", results=R):
    return paths.probe(results, round_)


def probe_samples_path(round_="{round}", results=R):
    return paths.probe_samples(results, round_)


def sft_path(round_="{round}", part="train", results=R):
    return paths.sft(results, round_, part)


def training_curve_path(round_="{round}", results=R):
    return paths.training_curve(results, round_)


def scratch_dir(name, round_=None, results=R):
    return paths.scratch_dir(results, name, round_)


def report_path(name, results=R):
    return paths.report(results, name)


def model_card_path(round_, results=R):
    return paths.model_card(results, round_)


def experiment_path(experiment, name):
    return paths.experiment(R, experiment, name)


def experiment_log_path(experiment, rule):
    return paths.experiment_log(R, experiment, rule)


def log_path(name, round_=None):
    return paths.log(R, name, round_)


BENCHMARKS = paths.benchmarks(R)  # every job's benchmark: file (wall and CPU time, memory), read by the report


def benchmark_path(name, round_=None):
    return paths.benchmark(R, name, round_)


JUDGE_SELFTEST = paths.judge_selftest(R)  # code tasks: the judge's self-test passed (rule judge_selftest)


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
AUTO_TEMPERATURE = stages.auto_temperature(config)  # each round's probe chooses its temperature


def think_probe(wildcards):
    """think.auto_temperature: the round's probe, whose chosen temperature a think job samples at."""
    return [probe_path(wildcards.round)] if AUTO_TEMPERATURE and wildcards.phase == "think" else []


def model_card_info(round_):
    """What a round's model card (tpt.card) says of the run, as JSON for the finetune command: what the finetune
    stage reads (tpt.stages), think.temperature the round's own."""
    s = stages.settings(config, "finetune", round_=int(round_))
    keys = {
        "base_model": s["model"]["base"],
        "round": int(round_),
        "task": s["task"]["name"],
        "think": s["think"],
        "prune": s["prune"],
        "criterion": s["verify"]["criterion"],
        "seed": s["seed"],
    }
    return json.dumps(keys, sort_keys=True)


REHEARSAL_SUMMARY = paths.rehearsal_summary(R)  # what a rehearsal checked and how long each stage took


def report_outputs():
    return [report_path(name) for name in stages.REPORT_FILES] + ([REHEARSAL_SUMMARY] if REHEARSAL else [])
