"""Helpers shared by the test modules: the tiny workflow config and the ways to run Snakemake on it."""
import datetime
import os
import subprocess
import sys
import time

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SNAKEMAKE = os.path.join(os.path.dirname(sys.executable), "snakemake")

TINY = {
    "rounds": 1,
    "task": {"name": "arith", "arith": {"test_problems": 3, "train_problems": 8, "warmup_problems": 40}},
    "model": {"builtin": {"hidden_size": 64, "intermediate_size": 128, "num_layers": 1, "num_heads": 2,
                          "max_length": 128, "warmup": {"epochs": 1}}},
    "sampling": {"backend": "hf", "batch_size": 16},
    "think": {"n": 2, "max_new_tokens": 16, "problems_per_round": 4},
    "eval": {"n": 3, "max_new_tokens": 16},
    # a random tiny model answers nothing right: keep every sample so the round has data to train on
    "prune": {"strategy": "none", "per_problem": None, "drop_truncated": False, "dedupe": False, "val_size": 2},
    "finetune": {"epochs": 1, "batch_size": 4, "max_length": 128, "save_steps": 2},
}


def command(workdir, config, *args, default_run=True):
    """The snakemake command line that runs the workflow in workdir with `config` (written to
    workdir/test-config.yaml) laid over the default run, as `--configfile config.yaml test-config.yaml` does; with
    default_run=False over the schema's defaults alone, as a preset is (`--configfile test-config.yaml`)."""
    path = os.path.join(workdir, "test-config.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    configfiles = [os.path.join(REPO, "config.yaml")] if default_run else []
    return [SNAKEMAKE, "-s", os.path.join(REPO, "Snakefile"), "-d", str(workdir), "--configfile", *configfiles,
            path, "--cores", "2", *args]


def snakemake(workdir, config, *args, default_run=True):
    """Run the workflow in workdir with `config` laid over the default run (default_run=False: over the schema's
    defaults alone, as a preset is); return the finished process."""
    return subprocess.run(command(workdir, config, *args, default_run=default_run), capture_output=True, text=True,
                          timeout=900)


def _merge(base, extra):
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def kill_snakemake_when(workdir, config, ready, what, *args):
    """Start the workflow in workdir (args: more snakemake arguments), SIGKILL Snakemake's whole process group
    (its local jobs too) as soon as ready() is true, and return. Fails if ready() never became true while the run
    was going."""
    import signal
    import time

    cmd = command(workdir, config, *args)
    run = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    while not ready() and time.time() < deadline and run.poll() is None:
        time.sleep(0.1)
    assert ready(), f"the run never got to the point of the kill: {what}"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()


def sample_requests(n=3):
    """Eval requests for two arith test problems, n samples each (round 2, seed 7)."""
    import pandas as pd

    from tpt import sampling

    problems = pd.DataFrame({"problem_id": ["arith/test/0", "arith/test/1"],
                             "question": ["Mia has 5 apples. She finds 3 more apples. How many apples does Mia "
                                          "have now?", "Leo has 9 cards. How many cards does Leo have now?"]})
    return sampling.make_requests(problems, lambda q: q, "eval", 2, n, seed=7)


# The real-SLURM tests (test_slurm*.py) are opt-in: they install Debian packages and start daemons as root
# (tests/slurm/cluster.sh); the `slurm_cluster` fixture in conftest.py starts and stops the cluster.
SLURM_TESTS = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("TPT_SLURM_TESTS") != "1",
                       reason="SLURM test is opt-in: set TPT_SLURM_TESTS=1 (installs packages, starts daemons)"),
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                       reason="SLURM test needs root (apt-get, /etc/slurm, daemons)"),
]
SLURM_ARGS = ["--profile", os.path.join(REPO, "profiles", "slurm"),
              # a tiny workflow: poll fast, no network filesystem to wait for; squeue notices an external scancel
              # at once (../shared/notes/slurm.md: the plugin can miss sacct's "CANCELLED by 0")
              "--slurm-init-seconds-before-status-checks", "2", "--slurm-status-command", "squeue",
              "--latency-wait", "5", "--jobs", "4", "--retries", "0",
              "--default-resources", "slurm_partition=debug", "runtime=10", "mem_mb=1500", "cpus_per_task=threads"]


def slurm_now():
    """A moment just before now, as sacct's -S takes it."""
    return (datetime.datetime.now() - datetime.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")


def cancel_when_running(cmd, comment, timeout):
    """Run Snakemake (cmd) and scancel the SLURM job whose comment (the plugin's rule_<rule>_wildcards_<values>)
    is `comment` as soon as it runs. Returns (the cancelled job's id or None, Snakemake's return code, its
    output)."""
    run = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cancelled, deadline = None, time.time() + timeout
    while cancelled is None and time.time() < deadline and run.poll() is None:
        out = subprocess.run(["squeue", "-h", "-o", "%i|%k|%T"], capture_output=True, text=True).stdout
        for job_id, job_comment, state in (line.split("|") for line in out.splitlines() if line.count("|") == 2):
            if job_comment == comment and state == "RUNNING":
                subprocess.run(["scancel", job_id], check=True)
                cancelled = job_id
        time.sleep(0.5)
    log = run.communicate(timeout=timeout)[0]
    return cancelled, run.returncode, log
