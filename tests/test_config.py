"""Config errors stop the run at start-up with a message that names the key to fix."""
import copy
import json
import os
import re
import subprocess
import sys

import pytest
import yaml
from snakemake.utils import validate

from helpers import REPO, TINY, _merge, snakemake
from tpt import tasks
from tpt.config import ConfigError, check

SCHEMA = os.path.join(REPO, "workflow", "schemas", "config.schema.yaml")


def _config(**extra):
    with open(os.path.join(REPO, "config.yaml")) as f:
        config = yaml.safe_load(f)
    config = _merge(config, extra)
    validate(config, SCHEMA)
    return config


def test_the_default_config_is_valid_and_defaults_fill_missing_keys():
    config = _config()
    assert config["prune"]["drop_truncated"] is True          # not in config.yaml: from the schema
    assert config["finetune"]["lora"]["r"] == 16
    check(config)


# The config a run really gets: the Snakefile parsed by Snakemake's API with the given --configfile files, its
# `config` after the schema check filled in the defaults.
EFFECTIVE_CONFIG = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DeploymentSettings, OutputSettings, ResourceSettings

snakefile, workdir, *configfiles = sys.argv[1:]
with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(resource_settings=ResourceSettings(), deployment_settings=DeploymentSettings(),
                      config_settings=ConfigSettings(configfiles=[Path(c) for c in configfiles]),
                      snakefile=Path(snakefile), workdir=Path(workdir))
    print(json.dumps(wf._workflow.config))
"""


def effective_config(tmp_path, *configfiles):
    run = subprocess.run([sys.executable, "-c", EFFECTIVE_CONFIG, os.path.join(REPO, "Snakefile"), str(tmp_path),
                          *configfiles], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def schema_defaults():
    defaults = {}
    validate(defaults, SCHEMA)  # fills in every default
    return defaults


def _load(path):
    with open(os.path.join(REPO, path)) as f:
        return yaml.safe_load(f)


@pytest.mark.parametrize("preset", [os.path.join("config", "presets", name) for name in
                                    sorted(os.listdir(os.path.join(REPO, "config", "presets")))] +
                         ["config/examples/math-boxed.yaml"])  # a GPU example, run like a preset
def test_a_preset_is_the_schema_defaults_plus_its_own_keys(tmp_path, preset):
    """A preset is laid over the schema's defaults (the paper's recipe), not over the tiny default run."""
    config = effective_config(tmp_path, os.path.join(REPO, preset))
    assert config == _merge(schema_defaults(), _load(preset))
    assert config["prune"]["dedupe"] is True  # config.yaml's `dedupe: false` is the tiny run's, not the paper's


def test_the_default_run_is_the_schema_defaults_plus_config_yaml(tmp_path):
    config = effective_config(tmp_path)
    assert config == _merge(schema_defaults(), _load("config.yaml"))
    # the default run as the README describes it ("The built-in task and its tiny model")
    assert config["rounds"] == 6 and config["task"]["name"] == "arith" and config["model"]["base"] == "builtin"
    assert config["task"]["arith"]["test_problems"] == 200 and config["task"]["arith"]["teacher_slip_rate"] == 0.4
    assert config["model"]["builtin"]["num_layers"] == 4 and config["model"]["builtin"]["hidden_size"] == 128
    think, evals = config["think"], config["eval"]
    assert (think["problems_per_round"], think["fresh_problems"]) == (600, True)
    assert (think["n"], think["temperature"]) == (8, 0.8)
    assert (config["prune"]["per_problem"], config["finetune"]["epochs"], config["finetune"]["learning_rate"]) == \
        (2, 3, 5e-4)
    assert (evals["n"], evals["temperature"]) == (8, 0.7)
    # the default run's config.yaml names only keys it changes: each of its values differs from the schema's
    def changed(ours, defaults):
        return all(changed(v, defaults[k]) if isinstance(v, dict) else v != defaults[k] for k, v in ours.items())
    assert changed(_load("config.yaml"), schema_defaults())


def test_config_yaml_and_more_files_lay_over_the_default_run(tmp_path):
    """`--configfile config.yaml my.yaml` is the default run with my.yaml's keys on top."""
    (tmp_path / "my.yaml").write_text("rounds: 2\nthink: {n: 3}\n")
    config = effective_config(tmp_path, os.path.join(REPO, "config.yaml"), str(tmp_path / "my.yaml"))
    assert config == _merge(effective_config(tmp_path), {"rounds": 2, "think": {"n": 3}})


@pytest.mark.parametrize("extra, message", [
    ({"prune": {"per_problme": 2}}, "per_problme"),
    ({"think": {"temperature": "hot"}}, "hot"),
    ({"sampling": {"backend": "tgi"}}, "tgi"),
    ({"rounds": -1}, "-1"),
    ({"finetune": {"interpolate": {"ratio": 1.5}}}, "1.5"),
    ({"finetune": {"interpolate": {"with": "init"}}}, "init"),
])
def test_schema_errors_name_the_key(extra, message):
    with pytest.raises(Exception, match=message):
        _config(**extra)


@pytest.mark.parametrize("extra, message", [
    ({"task": {"name": "gsm8k"}}, "model.base=builtin is the tiny model"),
    ({"model": {"base": "./no/such/model"}}, "no such folder"),
    ({"eval": {"temperature": 0}}, "eval.temperature=0 with eval.n=8"),
    ({"finetune": {"max_length": 32}}, "finetune.max_length=32"),
    ({"prune": {"strategy": "soft"}}, "prune.strategy=soft keeps code"),
    ({"task": {"name": "mbpp"}, "model": {"base": "org/model"}, "verify": {"criterion": "numeric"}},
     "task 'mbpp' scores strict"),
    ({"verify": {"criterion": "exact"}}, "verify.criterion='exact': task 'arith' scores strict or numeric or flexible"),
    ({"task": {"name": "codecontests"}, "model": {"base": "org/model"}, "prune": {"strategy": "soft"}},
     "set verify.code.stop_at_first_failure to false"),
    ({"sampling": {"backend": "vllm", "vllm": {"tensor_parallel_size": 8}}, "resources": {"generate": {"gpu": 4}}},
     "tensor_parallel_size=8 splits the model over 8 GPUs, and resources.generate.gpu=4"),
    ({"prune": {"select": "farthest"}}, r"prune.select='farthest': not one of first, distinct"),
    ({"verify": {"code": {"backend": "docker"}}},
     "verify.code.backend='docker': not one of auto, unshare, userns, none"),
    ({"prune": {"allocation": "prop2diff"}}, r"prune.allocation='prop2diff': not one of fixed, uniform, difficulty"),
    ({"prune": {"allocation": "uniform", "per_problem": None}}, "set prune.per_problem to a number"),
    ({"prune": {"accumulate_cap": 100}}, "prune.accumulate is false"),
    ({"think": {"temperatures": [1.0, 0]}}, r"think.temperatures=\[1.0, 0\] has a 0"),
    ({"think": {"temperatures": [0.8], "auto_temperature": {"grid": [0.6, 1.0]}}}, "set one of them to null"),
])
def test_checks_across_keys(extra, message):
    with pytest.raises(ConfigError, match=message):
        check(_config(**extra))


def test_a_model_folder_without_config_json_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="without config.json"):
        check(_config(model={"base": str(tmp_path)}))


def test_snakemake_stops_before_any_job_on_a_bad_key(tmp_path):
    bad = copy.deepcopy(TINY)
    bad["finetune"]["learning_rat"] = 0.1
    run = snakemake(tmp_path, bad, "-n")
    assert run.returncode != 0
    assert "learning_rat" in run.stdout + run.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("preset", sorted(os.listdir(os.path.join(REPO, "config", "presets"))))
def test_each_paper_preset_plans_its_rounds(tmp_path, preset):
    with open(os.path.join(REPO, "config", "presets", preset)) as f:
        config = yaml.safe_load(f)
    run = snakemake(tmp_path, {**config, "results": "results"}, "-n", default_run=False)
    assert run.returncode == 0, run.stderr[-2000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", run.stdout + run.stderr, re.M))
    rounds = config["rounds"]
    shards = {phase: config.get(phase, {}).get("shards", 1) for phase in ("think", "eval")}
    assert jobs["finetune"] == str(rounds) and jobs["verify"] == str(2 * rounds + 1)
    assert jobs["generate"] == str(rounds * shards["think"] + (rounds + 1) * shards["eval"])
    # code tasks: the judge proves itself once before any verdict
    assert jobs.get("judge_selftest") == ("1" if config["task"]["name"] in tasks.code_tasks() else None)
    assert "base_model" not in jobs  # a hub model needs no local base model
