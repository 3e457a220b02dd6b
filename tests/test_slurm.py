"""The workflow end to end on a real single-node SLURM cluster, with --profile profiles/slurm.

Opt-in: it installs Debian packages and starts daemons as root (tests/slurm/cluster.sh), so it runs only with
TPT_SLURM_TESTS=1, as root:

    TPT_SLURM_TESTS=1 .venv/bin/pytest -q tests/test_slurm.py

TPT_SLURM_KEEP_CLUSTER=1 leaves the cluster up afterwards (`bash tests/slurm/cluster.sh down` stops it).
"""
import datetime
import os
import subprocess
import sys

import pytest

from helpers import REPO, SLURM_TESTS, TINY, snakemake

pytestmark = SLURM_TESTS


def _sacct(since):
    """(job name, comment, state) of every SLURM job (not step) that started since `since`."""
    out = subprocess.run(["sacct", "-a", "-X", "-n", "-P", "-S", since, "-o", "JobName,Comment,State"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return [tuple(line.split("|")) for line in out.splitlines() if line.strip()]


def test_one_round_on_slurm(slurm_cluster, tmp_path, monkeypatch):
    # Each SLURM job runs `snakemake` (and the tpt scripts) again inside its allocation, with the submitting
    # environment (sbatch --export=ALL): this venv must come first on PATH there.
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    since = (datetime.datetime.now() - datetime.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S")

    # the GPU-capable rules take mem_mb from config["resources"] (8 GB by default): ask for what a small CI node has
    config = dict(TINY, resources={rule: {"mem_mb": 1500, "runtime": 10}
                                   for rule in ("base_model", "generate", "finetune")})
    run = snakemake(tmp_path, config, "--profile", os.path.join(REPO, "profiles", "slurm"),
                    # a tiny workflow: poll fast, and no network filesystem to wait for
                    "--slurm-init-seconds-before-status-checks", "2", "--latency-wait", "5", "--jobs", "4",
                    "--retries", "0", "--default-resources", "slurm_partition=debug", "runtime=10",
                    "mem_mb=2000", "cpus_per_task=threads")
    if run.returncode != 0:  # the plugin keeps the SLURM logs of failed jobs only
        logs = sorted((tmp_path / ".snakemake" / "slurm_logs").rglob("*.log"))
        pytest.fail(run.stderr[-4000:] + "".join(f"\n----- {p}\n{p.read_text()[-2000:]}" for p in logs))
    report = tmp_path / "results" / "report"
    assert (report / "summary.md").exists() and (report / "summary.parquet").exists()

    jobs = [j for j in _sacct(since) if j[1].startswith("rule_")]
    rules = {comment.split("_wildcards_")[0][len("rule_"):] for _, comment, _ in jobs}
    # the plugin names every job of a run after the run's uuid and writes rule_<rule>_wildcards_<...> as comment
    assert len({name for name, _, _ in jobs}) == 1, jobs
    assert {"base_model", "generate", "finetune", "verify"} <= rules, jobs
    assert not rules & {"problems", "prune", "eval_metrics", "report", "gather_samples"}, jobs  # local rules
    assert all(state == "COMPLETED" for _, _, state in jobs), jobs
    # generate: think of round 1 plus eval of rounds 0 and 1
    assert sum(comment.startswith("rule_generate_") for _, comment, _ in jobs) == 3, jobs


@pytest.mark.parametrize("preset", sorted(os.listdir(os.path.join(REPO, "config", "presets"))))
def test_each_paper_preset_plans_gpu_jobs_through_the_slurm_profile(slurm_cluster, tmp_path, preset):
    import re

    import yaml

    with open(os.path.join(REPO, "config", "presets", preset)) as f:
        config = yaml.safe_load(f)
    run = snakemake(tmp_path, {**config, "results": "results"}, "-n", "--profile",
                    os.path.join(REPO, "profiles", "slurm"), default_run=False)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout + run.stderr
    # every generate and finetune job asks for the preset's GPUs, owned by one task
    for rule in ("generate", "finetune"):
        gpus = config["resources"][rule]["gpu"]
        blocks = re.findall(rf"rule {rule}:.*?resources: ([^\n]*)", out, re.S)
        assert blocks and all(f"gpu={gpus}" in b and "tasks_per_gpu=0" in b for b in blocks), blocks[:2]
    # and that task runs the fine-tune in one process per GPU, under accelerate launch (the 70B preset: 8)
    gpus = config["resources"]["finetune"]["gpu"]
    commands = re.findall(r"rule finetune:.*?Shell command: ([^\n]*)", out, re.S)
    launcher = "-m accelerate.commands.launch --config_file" if gpus > 1 else "-m tpt.launch --train"
    assert commands and all(launcher in c and (gpus == 1 or f"--num_processes {gpus} " in c) for c in commands), \
        commands[:1]


def test_a_two_process_finetune_runs_in_one_slurm_task(slurm_cluster, tmp_path, monkeypatch):
    """accelerate launch with 2 processes (on CPUs here, as it would on 2 GPUs) inside the job's one task."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    since = (datetime.datetime.now() - datetime.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S")
    config = dict(TINY, finetune={**TINY["finetune"], "distributed": {"processes": 2}},
                  resources={rule: {"mem_mb": 1500, "runtime": 10} for rule in ("base_model", "generate", "finetune")})
    run = snakemake(tmp_path, config, "results/models/round_1", "--profile", os.path.join(REPO, "profiles", "slurm"),
                    "--slurm-init-seconds-before-status-checks", "2", "--latency-wait", "5", "--jobs", "4",
                    "--retries", "0", "--default-resources", "slurm_partition=debug", "runtime=10",
                    "mem_mb=2000", "cpus_per_task=threads")
    if run.returncode != 0:
        logs = sorted((tmp_path / ".snakemake" / "slurm_logs").rglob("*.log"))
        pytest.fail(run.stderr[-4000:] + "".join(f"\n----- {p}\n{p.read_text()[-2000:]}" for p in logs))
    assert "in 2 process(es)" in (tmp_path / "results/logs/round_1/finetune.log").read_text()
    assert (tmp_path / "results/models/round_1/model.safetensors").exists()
    finetunes = [state for _, comment, state in _sacct(since) if comment.startswith("rule_finetune_")]
    assert finetunes == ["COMPLETED"], finetunes
