"""Faults on a real SLURM cluster (opt-in like tests/test_slurm.py: TPT_SLURM_TESTS=1, as root): a generation
shard cancelled with scancel is the only job the next run redoes."""
import os
import subprocess
import sys
import time

from helpers import (SLURM_ARGS, SLURM_TESTS, TINY, _merge, cancel_when_running, command, kill_snakemake_when,
                     slurm_now)

pytestmark = SLURM_TESTS



# the plugin's job comment: rule_<rule>_wildcards_<values in order> (round, phase, shard)
SHARD_1 = "rule_generate_wildcards_0_eval_1"


def _jobs(since):
    """{job id: (comment, state)} of every SLURM job (not step) that ran at any time after `since`. sacct's
    window holds every job still running after `since`, so a job of an earlier run that ended a moment later is
    in it too: tell the runs apart by job id, not by time."""
    out = subprocess.run(["sacct", "-a", "-X", "-n", "-P", "-S", since, "-o", "JobIDRaw,Comment,State"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return {job: (comment, state) for job, comment, state in
            (line.split("|") for line in out.splitlines() if line.strip())}


def test_a_cancelled_shard_is_the_only_job_rerun(slurm_cluster, tmp_path, tiny_model, monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    config = _merge(TINY, {"model": {"base": tiny_model}, "eval": {"n": 2, "shards": 3},
                           "resources": {"generate": {"mem_mb": 1500, "runtime": 10}}})
    # the target first: --default-resources takes the arguments after it
    cmd = command(tmp_path, config, "results/round_0/eval/samples.parquet", *SLURM_ARGS)

    # first run: cancel shard 1's job as soon as SLURM runs it; the sibling shards finish (keep-going)
    since = slurm_now()
    cancelled, returncode, log = cancel_when_running(cmd, SHARD_1, 300)
    assert cancelled, "shard 1 never ran:\n" + log[-3000:]
    assert returncode != 0, log[-3000:]
    shards = tmp_path / "results/round_0/eval/shards"
    done = {p.name: p.stat().st_mtime_ns for p in shards.glob("samples_*.parquet")}
    assert sorted(done) == ["samples_0.parquet", "samples_2.parquet"], log[-3000:]

    # the same command again: only shard 1 is submitted, and the finished shards are kept as they were
    before = _jobs(since)
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    generate = [comment for job, (comment, _) in _jobs(since).items()
                if job not in before and comment.startswith("rule_generate_")]
    assert generate == [SHARD_1], again.stderr[-3000:]
    assert {name: (shards / name).stat().st_mtime_ns for name in done} == done
    assert (tmp_path / "results/round_0/eval/samples.parquet").exists()


def test_snakemake_killed_during_a_slurm_finetune_resumes_from_its_checkpoint(slurm_cluster, tmp_path, tiny_model,
                                                                               monkeypatch):
    """SIGKILL Snakemake on the 'login node' while SLURM runs the fine-tune; the user cancels the orphaned job
    (its run id is the job name), unlocks and reruns: only the fine-tune is submitted again, and it resumes from
    the checkpoint the killed job left."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    small = {"mem_mb": 1500, "runtime": 10}
    config = _merge(TINY, {"model": {"base": tiny_model},
                           "finetune": {"epochs": 40, "batch_size": 1, "save_steps": 5},
                           "resources": {"generate": small, "finetune": small}})
    scratch = tmp_path / "results/scratch/finetune/round_1"
    kill_snakemake_when(tmp_path, config, lambda: list(scratch.glob("checkpoint-*/trainer_state.json")),
                        "the fine-tune job wrote a checkpoint", "results/models/round_1", *SLURM_ARGS)
    cmd = command(tmp_path, config, "results/models/round_1", *SLURM_ARGS)

    # the job outlives the Snakemake that submitted it: cancel it, as the README says, and wait for the queue
    out = subprocess.run(["squeue", "-h", "-o", "%i|%k"], capture_output=True, text=True).stdout
    orphans = [line.split("|")[0] for line in out.splitlines() if "|rule_finetune_" in line]
    assert orphans, out
    subprocess.run(["scancel", *orphans], check=True)
    while subprocess.run(["squeue", "-h", "-j", ",".join(orphans)], capture_output=True, text=True).stdout.strip():
        time.sleep(0.5)

    since = slurm_now()
    before = _jobs(since)  # the cancelled job is in sacct's window: it ended after `since`
    assert subprocess.run(cmd + ["--unlock"], capture_output=True).returncode == 0
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    rules = [comment.split("_wildcards_")[0] for job, (comment, _) in _jobs(since).items()
             if job not in before and comment.startswith("rule_")]
    assert rules == ["rule_finetune"], rules
    log = (tmp_path / "results/logs/round_1/finetune.log").read_text()
    assert "'resumed_from': '" in log and "checkpoint-" in log.split("'resumed_from': '")[1][:200]
    assert (tmp_path / "results/models/round_1/model.safetensors").exists()
