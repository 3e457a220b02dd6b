"""Checks of the config beyond its JSON schema (workflow/schemas/config.schema.yaml): the ones that need to
look at two keys together or at the file system. Each error says which key to fix."""
import os

from tpt import tasks
from tpt.errors import ConfigError  # noqa: F401 (also imported from here)


def check(config):
    base, task = config["model"]["base"], config["task"]["name"]
    try:  # the task from the registry, configured (a task from config checks its template and scorer here)
        configured = tasks.from_config(config["task"])
    except ConfigError:
        raise
    except ValueError as e:
        raise ConfigError(f"task.name={task!r}: {e}") from e
    if base == "builtin" and not tasks.runs_on_builtin_model(configured):
        raise ConfigError(f"model.base=builtin is the tiny model of the built-in arith task; task.name={task!r} "
                          "needs a real model: set model.base to a hub id or a local HF model folder")
    scorings = configured.SCORINGS
    if config["verify"]["criterion"] not in scorings:
        raise ConfigError(f"verify.criterion={config['verify']['criterion']!r}: task {task!r} scores "
                          f"{' or '.join(scorings)} (set verify.criterion to one of them)")
    if config["prune"]["strategy"] == "soft":
        if not tasks.is_code(configured):
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
    from tpt.code.sandbox import CHOICES as SANDBOX_BACKENDS  # the registry of the sandbox's backends
    from tpt.prune import ALLOCATIONS, SELECTORS  # the registries of prune's variants

    backend = config["verify"]["code"]["backend"]
    if backend not in SANDBOX_BACKENDS:
        raise ConfigError(f"verify.code.backend={backend!r}: not one of {', '.join(SANDBOX_BACKENDS)}")

    prune = config["prune"]
    for key, registry in (("select", SELECTORS), ("allocation", ALLOCATIONS)):
        if prune[key] not in registry:
            raise ConfigError(f"prune.{key}={prune[key]!r}: not one of {', '.join(registry)}")
    if prune["allocation"] != "fixed" and prune["per_problem"] is None:
        raise ConfigError(f"prune.allocation={prune['allocation']} shares out prune.per_problem examples per solved "
                          "problem: set prune.per_problem to a number")
    if prune["accumulate_cap"] is not None and not prune["accumulate"]:
        raise ConfigError("prune.accumulate_cap is set but prune.accumulate is false: set accumulate: true, or "
                          "remove the cap")
    temps = config["think"]["temperatures"]
    if temps is not None and config["think"]["n"] > 1 and 0 in temps:
        raise ConfigError(f"think.temperatures={temps} has a 0 with think.n={config['think']['n']}: greedy "
                          "decoding gives n identical samples")
    if config["think"]["auto_temperature"]["grid"] and temps is not None:
        raise ConfigError("think.auto_temperature.grid and think.temperatures both choose the think temperature of "
                          "each round: set one of them to null")
    if config["finetune"]["max_length"] < config["think"]["max_new_tokens"]:
        raise ConfigError(f"finetune.max_length={config['finetune']['max_length']} is shorter than "
                          f"think.max_new_tokens={config['think']['max_new_tokens']}: long correct samples could "
                          "not be trained on")
    tp, gpus = config["sampling"]["vllm"]["tensor_parallel_size"], config["resources"]["generate"]["gpu"]
    if config["sampling"]["backend"] == "vllm" and gpus and tp > gpus:
        raise ConfigError(f"sampling.vllm.tensor_parallel_size={tp} splits the model over {tp} GPUs, and "
                          f"resources.generate.gpu={gpus}: set resources.generate.gpu to {tp}, or lower "
                          "sampling.vllm.tensor_parallel_size")
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
