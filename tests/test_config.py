"""Config errors stop the run at start-up with a message that names the key to fix."""
import copy
import os
import re

import pytest
import yaml
from snakemake.utils import validate

from test_workflow import REPO, TINY, _merge, snakemake
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
    ({"task": {"name": "codecontests"}, "model": {"base": "org/model"}, "prune": {"strategy": "soft"}},
     "set verify.code.stop_at_first_failure to false"),
    ({"sampling": {"backend": "vllm", "vllm": {"tensor_parallel_size": 8}}, "resources": {"generate": {"gpu": 4}}},
     "tensor_parallel_size=8 splits the model over 8 GPUs, and resources.generate.gpu=4"),
    ({"prune": {"select": "farthest"}}, r"prune.select='farthest': not one of first, distinct"),
    ({"prune": {"allocation": "prop2diff"}}, r"prune.allocation='prop2diff': not one of fixed, uniform, difficulty"),
    ({"prune": {"allocation": "uniform", "per_problem": None}}, "set prune.per_problem to a number"),
    ({"prune": {"accumulate_cap": 100}}, "prune.accumulate is false"),
    ({"think": {"temperatures": [1.0, 0]}}, r"think.temperatures=\[1.0, 0\] has a 0"),
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
    run = snakemake(tmp_path, {**config, "results": "results"}, "-n")
    assert run.returncode == 0, run.stderr[-2000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", run.stdout + run.stderr, re.M))
    rounds = config["rounds"]
    shards = {phase: config.get(phase, {}).get("shards", 1) for phase in ("think", "eval")}
    assert jobs["finetune"] == str(rounds) and jobs["verify"] == str(2 * rounds + 1)
    assert jobs["generate"] == str(rounds * shards["think"] + (rounds + 1) * shards["eval"])
    # code tasks: the judge proves itself once before any verdict
    assert jobs.get("judge_selftest") == ("1" if config["task"]["name"] in tasks.code_tasks() else None)
    assert "base_model" not in jobs  # a hub model needs no local base model
