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


def readme_rerun_command():
    """The README's command that reruns one round (the line of a code block with `--forcerun` on a round's think
    shards), without its comment."""
    lines = [line for line in open(os.path.join(REPO, "README.md")).read().splitlines()
             if line.startswith("snakemake ") and "--forcerun results/round_" in line and "think/shards" in line]
    assert len(lines) == 1, f"README.md should show the rerun-one-round command once, found {lines}"
    return lines[0].split("#")[0].strip()


@pytest.mark.slow
def test_readme_command_reruns_one_round_with_the_same_samples(tmp_path):
    """Run TINY, then the README's rerun command as written (through bash, which expands the shard glob), for
    round 1: round 1 is redone (think, verify, prune, fine-tune, eval) with identical samples, the report is
    rebuilt, round 0 is left alone."""
    import pandas as pd

    from test_workflow import TINY, snakemake
    from tpt import artifacts

    command = readme_rerun_command()
    assert command.startswith("snakemake --cores 2 --forcerun results/round_2/think/shards/samples_*.parquet")
    assert snakemake(tmp_path, TINY).returncode == 0
    res = tmp_path / "results"
    think = res / "round_1/think/samples.parquet"
    outputs = [think, res / "round_1/think/verdicts.parquet", res / "round_1/prune/sft_train.parquet",
               res / "models/round_1/model.safetensors", res / "round_1/eval/samples.parquet",
               res / "round_1/eval/metrics.parquet", res / "report/summary.md"]
    kept = [res / "data/train.parquet", res / "models/round_0/model.safetensors", res / "round_0/eval/metrics.parquet"]
    before = {p: p.stat().st_mtime_ns for p in outputs + kept}
    samples = {p: artifacts.read(str(p), artifacts.SAMPLES) for p in (think, res / "round_1/eval/samples.parquet")}

    # the README's words, for round 1 of this 1-round config, run by bash in the working directory
    words = command.replace("round_2", "round_1").replace(
        "snakemake ", f"{SNAKEMAKE} -s {REPO}/Snakefile --configfile test-config.yaml ", 1)
    run = subprocess.run(["bash", "-c", words], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "samples_0.parquet" in run.stderr + run.stdout  # the glob found the shard

    assert all(p.stat().st_mtime_ns != before[p] for p in outputs), [p for p in outputs if
                                                                     p.stat().st_mtime_ns == before[p]]
    assert all(p.stat().st_mtime_ns == before[p] for p in kept)
    for path, frame in samples.items():
        pd.testing.assert_frame_equal(artifacts.read(str(path), artifacts.SAMPLES), frame)
