"""The stages of a run: which they are, what each writes, and what each reads.

**The list** (`STAGES`, in their order), read by the cost table, the experiment comparison, the report and the
benchmarks. A stage is a kind of job: `name` is its log and benchmark file's name (without the shard number of a
sharded job: generate_think_0.tsv is generate_think), `rule` the workflow rule that runs it, `gpu` whether the
rule can ask for GPUs (its `resources.<rule>` section of the config says how many), `round` which rounds it runs
in, and `writes(results, round)` the artifacts it makes (tpt.paths). round: None for run-wide jobs (their files are
at the top of logs/ and benchmarks/), 0 for the base model (run-wide files, counted as round 0's), "trained" for
the rounds that think, prune and fine-tune (1, 2, ...) and "every" for every round from 0 (evaluation); the files
of these two are under round_<r>/.

**What each stage reads** (`reads`): the one declaration that hands a stage its settings and keys its artifacts.
Every rule that computes something gets its config through `settings(cfg, stage, ...)`: a nested dict holding
exactly the keys that `reads(cfg, stage, ...)` declares (a rule's `params:`, which its script reads). The same
declaration makes the stage's key (tpt.sharing): a hash of the declared keys that change *what* is computed and
of the keys of the artifacts the stage is made from. A stage cannot read a key it is not handed, so a key that
changes what a stage computes is in that stage's key; tests/test_stages.py checks it by running the stages with
recording settings (`Recorder`). (A rehearsal's base model, a miniature of a model family, is handed the whole
task and finetune sections: rehearsals are not shared.)

Keys that change *how* a stage runs, and not what it computes, are handed to the stages that read them but stay
out of every key; they are listed in HOW, with the reason. A number of training processes, GPUs or nodes is not
among them: it multiplies the effective batch (batch_size x grad_accum x processes) and so changes the model.
"""
import copy
import fnmatch
import functools
import json
import os
from collections import namedtuple

from tpt import paths


Stage = namedtuple("Stage", ["name", "rule", "gpu", "round", "sharded", "writes"])

# The report's files that `all` asks for (the report rule's outputs, less the model cards)
REPORT_FILES = ("summary.parquet", "summary.md", "pass1.png", "passk.png", "solve_rate.png", "diversity.parquet",
                "training_loss.png", "cost.parquet", "cost.html", "cost.png")

STAGES = (
    Stage("problems_train", "problems", False, None, False, lambda res, r: [paths.problems(res, "train")]),
    Stage("problems_test", "problems", False, None, False, lambda res, r: [paths.problems(res, "test")]),
    Stage("judge_selftest", "judge_selftest", False, None, False, lambda res, r: [paths.judge_selftest(res)]),
    Stage("base_model", "base_model", True, 0, False, lambda res, r: [paths.model_dir(res, 0)]),
    Stage("probe", "probe", True, "trained", False,  # think.auto_temperature
          lambda res, r: [paths.probe(res, r), paths.probe_samples(res, r)]),
    Stage("generate_think", "generate", True, "trained", True, lambda res, r: [paths.samples(res, r, "think")]),
    Stage("verify_think", "verify", False, "trained", False, lambda res, r: [paths.verdicts(res, r, "think")]),
    Stage("prune", "prune", False, "trained", False,
          lambda res, r: [paths.sft(res, r, "train"), paths.sft(res, r, "val")]),
    Stage("think_metrics", "think_metrics", False, "trained", False, lambda res, r: [paths.metrics(res, r, "think")]),
    Stage("finetune", "finetune", True, "trained", False, lambda res, r: [paths.model_dir(res, r)]),
    Stage("generate_eval", "generate", True, "every", True, lambda res, r: [paths.samples(res, r, "eval")]),
    Stage("verify_eval", "verify", False, "every", False, lambda res, r: [paths.verdicts(res, r, "eval")]),
    Stage("eval_metrics", "eval_metrics", False, "every", False, lambda res, r: [paths.metrics(res, r, "eval")]),
    Stage("report", "report", False, None, False, lambda res, r: [paths.report(res, f) for f in REPORT_FILES]),
)
BY_NAME = {s.name: s for s in STAGES}


def of_round(round_):
    """The stages whose jobs make a round: round 0's are the base model and its evaluation."""
    return [s for s in STAGES if s.round == "every" or (s.round == 0 if round_ == 0 else s.round == "trained")]


def benchmark_files(stage, results, round_):
    """The glob pattern of a stage's benchmark files for a round (every shard of a sharded stage)."""
    name = stage.name + ("_*" if stage.sharded else "")
    return paths.benchmark(results, name, round_ if stage.round in ("trained", "every") else None)


def gpus(stage_name, resources):
    """GPUs a job of a stage asked for, from the config's resources section (nodes x GPUs for the fine-tune); 0
    for a CPU stage or a name that is no stage."""
    stage = BY_NAME.get(stage_name)
    if stage is None or not stage.gpu:
        return 0
    res = resources.get(stage.rule, {})
    return int(res.get("gpu", 0)) * int(res.get("nodes", 1))


# ---- What each stage reads

# dotted key (a pattern, * for one level) -> why it changes how, not what, a stage computes
HOW = {
    "threads.*": "CPU threads of a job: the same computation on more cores (on a CPU, sums can differ in their last "
                 "bits with the thread count; the recipe does not change)",
    "think.shards": "how many jobs sample a phase: every sample's seed depends only on its id, so the gathered "
                    "samples are the same",
    "eval.shards": "as think.shards",
    "sampling.progress_interval_s": "how often a sampling job logs its progress",
    "verify.code.progress_interval_s": "how often a verify job logs its progress",
    "sampling.vllm.gpu_memory_utilization": "how much GPU memory vLLM may take (its KV cache), not the samples",
    "sampling.vllm.cpu_kvcache_gb": "the KV cache's size on a CPU, not the samples",
    "finetune.save_steps": "how often a fine-tune writes a checkpoint to resume from",
    "finetune.report_to": "where the training figures are logged besides the log (TensorBoard, W&B)",
    "finetune.distributed.main_process_port": "the network port of a multi-node fine-tune",
    "resources.*.mem_mb": "what a job asks the scheduler for",
    "resources.*.runtime": "what a job asks the scheduler for",
    "resources.*.slurm_partition": "where the scheduler runs a job",
    "resources.*.gpu_model": "which GPU model a job asks for (the count, resources.*.gpu, is what: it switches "
                             "the device, its precision, and for the fine-tune the processes)",
}


def is_how(key):
    return any(fnmatch.fnmatchcase(key, pattern) for pattern in HOW)


# Keys a stage is handed through another: think.temperatures reaches a round's jobs as that round's
# think.temperature (sampling.round_temperature), so a round whose temperature stays the same is shared.
THROUGH = {"think.temperatures": "think.temperature"}
# Seeds whose null means the run's seed: handed resolved, so a stage's key holds the seed it really uses (an
# experiment's replicates differ in the run's seed only; the stages that read these declare "seed" as well).
RUN_SEED = ("prune.seed", "finetune.seed")


# Not read by any stage: the run's layout and the report (a variant's report is its own, never shared).
UNREAD = {
    "results": "the results folder: where, not what",
    "rounds": "how many rounds: each round's artifacts do not depend on how many follow",
    "experiment": "the experiment section itself (tpt.experiment expands it into variants)",
    "rehearsal": "applied to the whole config before any stage (tpt.rehearsal.apply): the stages read the keys it "
                 "sets (the miniature model, the sizes, the results folder)",
}


# ---- The declarations: dotted keys (a section stands for every key under it) each stage reads.

def _task(cfg, evaluation=False, checks=False):
    """The task keys a task's load, prompt and scorer read: the `task` section without the other tasks' sections;
    without task.validate unless the problem checks are run (checks), and without the built-in task's
    evaluate_on outside evaluation (it picks the test problems, nothing the rounds learn from)."""
    from tpt import tasks

    task = cfg["task"]
    out = []
    for key, value in task.items():
        if isinstance(value, dict) and key in tasks.BUILTIN and key != task["name"]:
            continue  # another task's own section (task.custom on the arith task)
        if key == "validate" and not checks:
            continue
        if key == "arith" and not evaluation:
            out += [f"task.arith.{k}" for k in value if k != "evaluate_on"]
            continue
        out.append(f"task.{key}")
    return out


def code_task(cfg):
    return _is_code(json.dumps(cfg["task"], sort_keys=True, default=str))


@functools.lru_cache(maxsize=256)
def _is_code(task_json):  # the task registry reads the installed packages' entry points: once per task config
    from tpt import tasks

    return tasks.is_code(tasks.from_config(json.loads(task_json)))


def _judge(cfg):
    return ["verify.code"] if code_task(cfg) else []


def _validates(cfg):
    """task.validate runs the known solutions through the judge (problems.py): then verify.code counts."""
    return cfg["task"]["validate"]["solutions"] > 0 and code_task(cfg)


def _sampling(cfg):
    keys = ["sampling.backend", "sampling.batch_size", "sampling.dtype", "sampling.max_model_len",
            "sampling.progress_interval_s"]
    return keys + (["sampling.vllm"] if cfg["sampling"]["backend"] == "vllm" else [])


def auto_temperature(cfg):
    """think.auto_temperature is on: each round's probe chooses its think temperature."""
    return bool(cfg["think"]["auto_temperature"]["grid"])


def _train(cfg, section="finetune"):
    """The finetune keys tpt.train.finetune reads (LoRA's only with finetune.method: lora)."""
    keys = ["epochs", "learning_rate", "lr_scheduler", "warmup_ratio", "batch_size", "grad_accum", "weight_decay",
            "max_grad_norm", "bf16", "seed", "save_steps", "logging_steps", "gradient_checkpointing",
            "attn_implementation", "report_to", "method", "max_length", "loss", "cpu_bf16", "sampler"]
    return [f"{section}.{k}" for k in keys] + ([f"{section}.lora"] if cfg["finetune"]["method"] == "lora" else []) \
        + ([f"{section}.gem"] if cfg["finetune"]["loss"] == "gem" else [])


def reads(cfg, stage, split=None, phase=None, round_=None):
    """The dotted config keys `stage` reads (for the split, phase or round of the job)."""
    if stage == "problems":
        return _task(cfg, evaluation=split == "test", checks=True) + (["verify.code"] if _validates(cfg) else [])
    if stage == "judge_selftest":
        return ["verify.code.backend", "verify.code.allow_unsafe", "verify.code.time_factor"]
    if stage == "base_model":  # tiny.warm_up: the finetune settings, its own warm-up ones over them
        overridden = {"finetune.epochs", "finetune.learning_rate", "finetune.warmup_ratio", "finetune.method",
                      "finetune.max_length", "finetune.lora", "finetune.seed", "finetune.loss", "finetune.gem"}
        return (["task.arith.seed", "task.arith.test_problems", "task.arith.train_problems",
                 "task.arith.warmup_problems", "task.arith.teacher_slip_rate", "model.builtin",
                 "resources.base_model.gpu"] + [k for k in _train(cfg) if k not in overridden])
    if stage == "generate":
        settings = [f"{phase}.{k}" for k in ("n", "top_p", "max_new_tokens", "shards")]
        settings += ["think.problems_per_round", "think.fresh_problems"] if phase == "think" else []
        # the round's temperature (think.temperatures' for this round, else think.temperature): settings() hands
        # the resolved value as <phase>.temperature; with think.auto_temperature, the round's probe (an input)
        # says it instead
        settings += [] if phase == "think" and auto_temperature(cfg) else [f"{phase}.temperature"]
        return settings + _sampling(cfg) + _task(cfg, evaluation=phase == "eval") + ["seed", "resources.generate.gpu"]
    if stage == "probe":  # the round's think problems, sampled at each temperature of the grid and verified
        return (["think.n", "think.top_p", "think.max_new_tokens", "think.problems_per_round", "think.fresh_problems",
                 "think.auto_temperature", "verify.criterion"] + _judge(cfg) + _sampling(cfg) + _task(cfg)
                + ["seed", "resources.generate.gpu"])
    if stage == "verify":
        return ["verify.criterion"] + _judge(cfg) + _task(cfg, evaluation=phase == "eval")
    if stage == "prune":
        # the weights' settings only with those weights (prune.dco with dco, prune.unlikely with unlikely)
        keys = [f"prune.{k}" for k in cfg["prune"] if k not in ("accumulate", "accumulate_cap", "dco", "unlikely")]
        keys += [f"prune.{cfg['prune']['weights']}"] if cfg["prune"]["weights"] != "none" else []
        keys += ["seed"] if cfg["prune"]["seed"] is None else []  # RUN_SEED
        return keys + (["prune.accumulate", "prune.accumulate_cap"] if cfg["prune"]["accumulate"] and round_ > 1
                       else [])
    if stage == "finetune":
        ft = cfg["finetune"]
        mix = ["finetune.interpolate.ratio"] + (["finetune.interpolate.with"] if ft["interpolate"]["ratio"] < 1
                                                 else [])
        # the processes (tpt.launch.plan): their number multiplies the effective batch
        procs = ["finetune.init", "finetune.distributed.strategy", "finetune.distributed.processes",
                 "finetune.distributed.main_process_port", "resources.finetune.gpu", "resources.finetune.nodes",
                 "threads.finetune"]
        # what the model card (tpt.card) says of the data: the round's think settings, prune's and the scoring;
        # the run's seed (the card's, and finetune.seed's when that is null: RUN_SEED)
        # (with think.auto_temperature, the round's temperature comes from its probe, an input of the fine-tune)
        temperature = "think.auto_temperature" if auto_temperature(cfg) else "think.temperature"
        card = ["model.base", "task.name", "think.n", temperature, "think.max_new_tokens", "prune.strategy",
                "prune.per_problem", "prune.weights", "verify.criterion", "seed"]
        card += [f"prune.{cfg['prune']['weights']}"] if cfg["prune"]["weights"] != "none" else []
        return _train(cfg) + mix + procs + card
    raise ValueError(f"unknown stage {stage!r}")


def _leaves(cfg, key):
    """The dotted leaves under key (key itself if it is a value; a free-form dict such as task.options is one)."""
    node = _get(cfg, key)
    if isinstance(node, dict) and node and key not in ("task.options",):
        return [leaf for k in node for leaf in _leaves(cfg, f"{key}.{k}")]
    return [key]


def _get(cfg, key):
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node


def settings(cfg, stage, split=None, phase=None, round_=None, how=True):
    """What `stage` is handed: a nested dict of the keys it reads, with their values (think.temperature: the
    round's). how=False leaves the HOW keys out: what the stage's key hashes."""
    from tpt.sampling import round_temperature

    out = {}
    for key in reads(cfg, stage, split, phase, round_):
        for leaf in _leaves(cfg, key):
            if not how and is_how(leaf):
                continue
            value = copy.deepcopy(_get(cfg, leaf))
            if leaf == "think.temperature" and round_ is not None:
                value = round_temperature(cfg["think"], round_)
            if leaf in RUN_SEED and value is None:
                value = cfg["seed"]
            node = out
            *parents, last = leaf.split(".")
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = value
    return out


def param(cfg, stage, section, split=None, phase=None, round_=None):
    """The part `section` (dotted) of what `stage` is handed, for a rule's params (None if it reads nothing
    there). With TPT_RECORD_READS set, a Recorder of it."""
    node = settings(cfg, stage, split, phase, round_)
    for part in section.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict) and os.environ.get(RECORD):
        return Recorder(node, os.environ[RECORD], _job(stage, split, phase, round_), section + ".")
    return node


def _job(stage, split, phase, round_):
    return "_".join(str(x) for x in (stage, split, phase, round_) if x is not None)


# ---- Recording what a stage's code reads (tests/test_experiment.py): with TPT_RECORD_READS=<folder> set where
# Snakemake parses the workflow, settings() hands Recorders, which append every key read to <folder>/<job>.txt.

RECORD = "TPT_RECORD_READS"


class Recorder(dict):
    """A dict that writes each key read through it (d[k], d.get(k), k in d) as a dotted path to a file."""

    def __init__(self, data, folder, job, prefix=""):
        super().__init__({k: Recorder(v, folder, job, f"{prefix}{k}.") if isinstance(v, dict) else v
                          for k, v in data.items()})
        self._folder, self._job, self._prefix = folder, job, prefix

    def _note(self, key):
        os.makedirs(self._folder, exist_ok=True)
        with open(os.path.join(self._folder, self._job + ".txt"), "a") as f:
            f.write(f"{self._prefix}{key}\n")

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)

    def __iter__(self):  # a copy ({**d}, dict(d)) reads every key: make it go through __getitem__
        return super().__iter__()

    def keys(self):
        return list(super().keys())

    def __reduce__(self):  # pickled into a script job: the same class, folder and job
        return (Recorder, (dict(super().items()), self._folder, self._job, self._prefix))
