"""An experiment on a real SLURM cluster (opt-in like tests/test_slurm.py: TPT_SLURM_TESTS=1, as root): a tiny
two-variant experiment through --profile slurm. The light rules (and the share links, the comparison) run in
Snakemake's process, the variants' heavy jobs are submitted; the variant's fine-tune, cancelled with scancel, is
rerun alone with what follows it, and the comparison is built."""
import os
import subprocess
import sys

from helpers import SLURM_ARGS, SLURM_TESTS, TINY, _merge, cancel_when_running, command, slurm_now

pytestmark = SLURM_TESTS

EXPERIMENT = {"name": "tiny", "reference": "ref",
              "variants": [{"name": "ref"}, {"name": "lr", "set": {"finetune.learning_rate": 1e-3}}]}
FINETUNE_LR = "rule_v_lr_finetune_wildcards_1"  # the plugin's job comment: rule_<rule>_wildcards_<values>
HEAVY = {"generate", "verify", "finetune"}


def _submitted(since, before=()):
    """The rules of the SLURM jobs that ran after `since` (not those in `before`): {job id: rule}."""
    out = subprocess.run(["sacct", "-a", "-X", "-n", "-P", "-S", since, "-o", "JobIDRaw,Comment"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    jobs = {}
    for job, comment in (line.split("|", 1) for line in out.splitlines() if line.strip()):
        if job not in before and comment.startswith("rule_"):
            jobs[job] = comment[len("rule_"):].split("_wildcards_")[0]
    return jobs


def test_an_experiment_through_the_slurm_profile(slurm_cluster, tmp_path, tiny_model, monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    small = {"mem_mb": 1500, "runtime": 10}
    config = _merge(TINY, {"model": {"base": tiny_model}, "finetune": {"epochs": 20, "batch_size": 1},
                           "resources": {"generate": small, "finetune": small}})
    config["experiment"] = EXPERIMENT
    cmd = command(tmp_path, config, *SLURM_ARGS)

    # first run: cancel the variant's fine-tune as soon as SLURM runs it; the reference finishes (keep-going)
    since = slurm_now()
    cancelled, returncode, log = cancel_when_running(cmd, FINETUNE_LR, 400)
    assert cancelled, "the variant's fine-tune never ran:\n" + log[-3000:]
    assert returncode != 0, log[-3000:]
    res = tmp_path / "results/tiny"
    assert (res / "ref/report/summary.md").exists(), log[-3000:]           # the reference went on to its report
    assert not (res / "comparison/table.md").exists()

    # every submitted job is a heavy rule of a variant; round 1's think of lr was linked, not submitted
    jobs = _submitted(since)
    rules = sorted(jobs.values())
    assert all(r.split("_", 2)[-1] in HEAVY and r.startswith(("v_ref_", "v_lr_")) for r in rules), rules
    # ref: round 0's eval, round 1's think and eval; lr: its fine-tune (cancelled) only, all else linked
    assert rules.count("v_ref_generate") == 3 and "v_lr_generate" not in rules, rules
    assert rules.count("v_lr_finetune") == 1, rules
    assert (res / "lr/round_1/prune/sft_train.parquet").is_symlink()

    # the same command again: only the variant's fine-tune and what follows it are submitted
    since2 = slurm_now()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = sorted(_submitted(since2, before=jobs).values())
    assert rerun == ["v_lr_finetune", "v_lr_generate", "v_lr_verify"], rerun
    table = (res / "comparison/table.md").read_text()
    assert "| lr | 1 |" in table and "| ref | 1 |" in table
