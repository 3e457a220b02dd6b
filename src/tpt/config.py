"""Checks of the config beyond its JSON schema (workflow/schemas/config.schema.yaml): the ones that need to
look at two keys together or at the file system. Each error says which key to fix."""
import os

from tpt import tasks


class ConfigError(ValueError):
    pass


def check(config):
    base, task = config["model"]["base"], config["task"]["name"]
    if base == "builtin" and task != "arith":
        raise ConfigError(f"model.base=builtin is the tiny model of the built-in arith task; task.name={task!r} "
                          "needs a real model: set model.base to a hub id or a local HF model folder")
    scorings = tasks.get(task).SCORINGS
    if config["verify"]["criterion"] not in scorings:
        raise ConfigError(f"verify.criterion={config['verify']['criterion']!r}: task {task!r} scores "
                          f"{' or '.join(scorings)} (set verify.criterion to one of them)")
    if config["prune"]["strategy"] == "soft":
        if task not in tasks.CODE_TASKS:
            raise ConfigError(f"prune.strategy=soft keeps code that passes at least one test: task {task!r} has no "
                              "tests (use correct or none)")
        if config["verify"]["code"]["stop_at_first_failure"]:
            raise ConfigError("prune.strategy=soft needs every test run: set verify.code.stop_at_first_failure "
                              "to false")
    if base != "builtin" and base.startswith(("/", "./", "../", "~")) and not os.path.isdir(base):
        raise ConfigError(f"model.base={base!r}: no such folder (give a local HF model folder or a hub id)")
    if base != "builtin" and os.path.isdir(base) and not os.path.exists(os.path.join(base, "config.json")):
        raise ConfigError(f"model.base={base!r} is a folder without config.json: not a HF model folder")
    for phase in ("think", "eval"):
        s = config[phase]
        if s["temperature"] == 0 and s["n"] > 1:
            raise ConfigError(f"{phase}.temperature=0 with {phase}.n={s['n']}: greedy decoding gives n identical "
                              "samples; use a temperature above 0 or n: 1")
    if config["finetune"]["max_length"] < config["think"]["max_new_tokens"]:
        raise ConfigError(f"finetune.max_length={config['finetune']['max_length']} is shorter than "
                          f"think.max_new_tokens={config['think']['max_new_tokens']}: long correct samples could "
                          "not be trained on")
    _check_report_to(config["finetune"].get("report_to", "none"))
    return config


# finetune.report_to names whose package must be importable where the fine-tune runs (the Trainer's names)
TRACKER_PACKAGES = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",), "mlflow": ("mlflow",),
                    "comet_ml": ("comet_ml",), "clearml": ("clearml",), "trackio": ("trackio",)}


def _check_report_to(report_to):
    import importlib.util

    for name in [report_to] if isinstance(report_to, str) else report_to:
        if name in ("none", "all"):
            continue
        packages = TRACKER_PACKAGES.get(name, (name,))
        if not any(importlib.util.find_spec(p) for p in packages):
            raise ConfigError(f"finetune.report_to={report_to!r}: {name} is not installed in this environment "
                              f"(`pip install {packages[0]}`), or leave it out (none: off)")
