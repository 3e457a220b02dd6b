"""How users deploy and call the workflow: the shipped profiles by name (`--profile slurm`, `--profile local`)."""
import os
import subprocess

import pytest

from test_workflow import REPO, SNAKEMAKE


def snakemake_from_repo_root(tmp_path, *args):
    """Run `snakemake <args>` as a user does, from the repository root, with the working directory (results/,
    .snakemake/) in tmp_path. XDG_CONFIG_HOME and XDG_CONFIG_DIRS point at an empty folder, so Snakemake's other
    places for named profiles (~/.config/snakemake, /etc/xdg/snakemake) hold nothing: a name found must be ours."""
    empty = tmp_path / "xdg"
    empty.mkdir(exist_ok=True)
    env = {**os.environ, "XDG_CONFIG_HOME": str(empty), "XDG_CONFIG_DIRS": str(empty)}
    return subprocess.run([SNAKEMAKE, *args, "-d", str(tmp_path)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.parametrize("name", ["slurm", "local"])
def test_profile_names_resolve_to_the_shipped_profiles(name):
    """`--profile NAME` from the repository root finds profiles/NAME: Snakemake looks a bare name up in the current
    directory first, and the root has a link NAME -> profiles/NAME (committed, so a clone or pull keeps it)."""
    link = os.path.join(REPO, name)
    assert os.path.islink(link) and os.readlink(link) == os.path.join("profiles", name)
    assert os.path.isfile(os.path.join(link, "config.yaml"))


def test_slurm_profile_by_name_plans_the_gsm8k_preset(tmp_path):
    """The README's command for a cluster, as written (dry run; real SLURM runs are in test_slurm.py)."""
    run = snakemake_from_repo_root(tmp_path, "--profile", "slurm", "-n", "--cores", "8", "--configfile",
                                   "config/presets/gsm8k-gemma2-9b.yaml")
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout + run.stderr
    assert "Using profile slurm for setting default command line arguments" in out
    # the profile's default-resources reached the jobs, and the preset's GPU rules ask for their GPUs
    assert "slurm_partition=debug" in out and "gpu=1" in out
    assert "rule finetune:" in out and "results/gsm8k-gemma2-9b/models/round_3" in out


def test_local_profile_by_name_plans_the_default_run(tmp_path):
    run = snakemake_from_repo_root(tmp_path, "--profile", "local", "-n", "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout + run.stderr
    assert "Using profile local for setting default command line arguments" in out
    assert "slurm_partition" not in out and "rule base_model:" in out and "results/models/round_6" in out


def test_profile_by_path_still_works(tmp_path):
    run = snakemake_from_repo_root(tmp_path, "--profile", "profiles/slurm", "-n", "--cores", "8")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "slurm_partition=debug" in run.stdout + run.stderr
