"""Sharing between an experiment's variants: each artifact's key, and which variant computes what the others link.

An artifact's key is a hash of the *what* keys its stage reads (tpt.stages.settings without the HOW keys) and of
the keys of the artifacts it is made from; two variants whose artifact has the same key would compute the same
thing, so the later one links the first one's (`shared`), with the benchmark files of the jobs behind it (`link`),
so that its cost counts them.
"""
import glob
import hashlib
import json
import os
import re

from tpt import experiment, paths, stages
from tpt.stages import code_task, settings

HERE = "."  # an artifact is named by its path under a run's results folder: tpt.paths' path under "." made relative


def _rel(path):
    return paths.relative(path, HERE)


def _key(*parts):
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def stage_key(cfg, stage, inputs, split=None, phase=None, round_=None):
    """The key of a stage's job: its declared what-keys' values and its inputs' keys."""
    what = settings(cfg, stage, split, phase, round_, how=False)
    return _key(stage, split, phase, round_, what, inputs)


def plan(cfg):
    """{artifact path under a run's results folder: (key, the paths of the artifacts it is made from)} of every
    artifact an experiment may share (a hub model is no artifact: it is left out, its id keys what reads it)."""
    out = {}

    def add(paths, stage, inputs, **ctx):
        inputs = [p for p in inputs if p]
        keys = [out[p][0] for p in inputs]
        key = _key(stage, keys) if stage.endswith("_metrics") else stage_key(cfg, stage, keys, **ctx)
        for path in paths:
            out[path] = (key, inputs)

    for s in ("train", "test"):
        add([_rel(paths.problems(HERE, s)), _rel(paths.problem_checks(HERE, s))], "problems", [], split=s)
    if code_task(cfg):
        add([_rel(paths.judge_selftest(HERE))], "judge_selftest", [])
    model = lambda r: _rel(paths.model_dir(HERE, r))  # noqa: E731
    if cfg["model"]["base"] == "builtin":
        add([model(0)], "base_model", [])
    else:
        out[model(0)] = (_key("hub", cfg["model"]["base"]), [])

    def sample_and_verify(r, phase, model_path):
        data = _rel(paths.problems(HERE, {"think": "train", "eval": "test"}[phase]))
        samples, verdicts = _rel(paths.samples(HERE, r, phase)), _rel(paths.verdicts(HERE, r, phase))
        probe = None
        if phase == "think" and stages.auto_temperature(cfg):  # the probe chooses its temperature
            probe = _rel(paths.probe(HERE, r))
            add([probe, _rel(paths.probe_samples(HERE, r))], "probe", [model_path, data], round_=r)
        add([samples], "generate", [model_path, data, probe], phase=phase, round_=r)
        add([verdicts], "verify", [samples, data], phase=phase, round_=r)
        return samples, verdicts

    def evaluate(r):
        add([_rel(paths.metrics(HERE, r, "eval"))], "eval_metrics", sample_and_verify(r, "eval", model(r)))

    evaluate(0)
    for r in range(1, cfg["rounds"] + 1):
        samples, verdicts = sample_and_verify(r, "think", model(r - 1))
        earlier = _rel(paths.sft(HERE, r - 1)) if cfg["prune"]["accumulate"] and r > 1 else None
        sft = _rel(paths.sft(HERE, r))
        add([sft, _rel(paths.sft(HERE, r, "val"))], "prune", [samples, verdicts, earlier], round_=r)
        add([_rel(paths.metrics(HERE, r, "think"))], "think_metrics", [samples, verdicts, sft])
        ft = cfg["finetune"]
        init = model(0 if ft["init"] == "base" else r - 1)
        mix = model(0 if ft["interpolate"]["with"] == "base" else r - 1) if ft["interpolate"]["ratio"] < 1 else None
        # the model and its training curve: one job
        add([model(r), _rel(paths.training_curve(HERE, r))], "finetune", [sft, init, mix], round_=r)
        evaluate(r)
    if cfg["model"]["base"] != "builtin":
        del out[model(0)]
    return out


def stage_keys(cfg):
    """{artifact path under a run's results folder: key} of every artifact an experiment may share."""
    return {path: key for path, (key, _) in plan(cfg).items()}


def upstream(graph, path):
    """path and every artifact it is made from, directly or not, in a plan(cfg)."""
    out, todo = [], [path]
    while todo:
        p = todo.pop()
        if p not in out and p in graph:
            out.append(p)
            todo += graph[p][1]
    return out


def _made_by(path):
    """(stage, round) of the job that makes artifact `path` (its first output; None for a job's other outputs,
    e.g. sft_val.parquet, counted with the first)."""
    for round_ in [None] + [int(n) for n in re.findall(r"\d+", path)]:
        for stage in stages.STAGES:
            if _rel(stage.writes(HERE, round_)[0]) == path:
                return stage, round_
    return None


def is_folder(path):
    """Whether artifact `path` is a folder (a model)."""
    made = _made_by(path)
    return made is not None and path == _rel(paths.model_dir(HERE, made[1] or 0))


def benchmark_files(results, path):
    """The benchmark files under <results> of the jobs that make artifact `path` (every shard's)."""
    made = _made_by(path)
    return glob.glob(stages.benchmark_files(made[0], results, made[1])) if made else []


def link(owner_results, results, path, made_from=()):
    """Link <results>/<path> to <owner_results>/<path> (a relative symlink), and the benchmark files of the jobs
    that made it and the artifacts it is made from (made_from: upstream's) likewise into <results>/benchmarks/,
    so that the variant's cost counts every job it shares."""
    links = [(os.path.join(owner_results, path), os.path.join(results, path))]
    owner_bench = paths.benchmarks(owner_results)
    for artifact in [path, *made_from]:
        for found in benchmark_files(owner_results, artifact):
            links.append((found, os.path.join(paths.benchmarks(results), os.path.relpath(found, owner_bench))))
    for target, name in links:
        os.makedirs(os.path.dirname(name), exist_ok=True)
        tmp = f"{name}.{os.getpid()}.link-tmp"  # share jobs running at once may link the same benchmark file
        if os.path.lexists(tmp):
            os.remove(tmp)
        os.symlink(os.path.relpath(target, os.path.dirname(name)), tmp)
        os.replace(tmp, name)  # atomically, over an earlier link


def shared(variants):
    """[(variant, path, owner)]: the artifacts (paths under a variant's results folder) that a variant takes from
    an earlier variant (the owner, which computes it) instead of computing them, in the variants' order."""
    owner_of, out = {}, []
    for vname, cfg in variants.items():
        for path, key in stage_keys(cfg).items():
            owner = owner_of.setdefault((path, key), vname)
            if owner != vname:
                out.append((vname, path, owner))
    return out


def partners(variants):
    """{variant: the variant it is compared with}: the first variant (the reference first) evaluated on the same
    problems (and, for a replicate, with the same seed). That is the reference for every variant evaluated on the
    test problems, and the reference's twin for the twins evaluated on validation problems (experiment.validation);
    a replicate's is the reference's replicate of its seed."""
    first, out = {}, {}
    for name, cfg in variants.items():
        problems = stage_keys(cfg)[_rel(paths.problems(HERE, "test"))]
        out[name] = first.setdefault((problems, experiment.replicate_of(name)[1]), name)
    return out


def shared_models(variants):
    """[(owner, round, [every variant that uses the owner's fine-tuned model of that round, the owner first])]: the
    models that more than one variant uses."""
    out = []
    for (owner, path), names in users(variants).items():
        made = _made_by(path)
        if made and made[0].name == "finetune" and len(names) > 1:
            out.append((owner, made[1], names))
    return out


def differing(a, b, prefix=""):
    """{dotted key: (a's value, b's value)} of the keys two variants' configs set differently (not results)."""
    out = {}
    for k in list(a) + [k for k in b if k not in a]:
        key, x, y = f"{prefix}{k}", a.get(k), b.get(k)
        if key == "results":
            continue
        if isinstance(x, dict) and isinstance(y, dict) and x and y:
            out.update(differing(x, y, key + "."))
        elif x != y:
            out[key] = (x, y)
    return out


def users(variants):
    """{(owner, path): [every variant that uses the owner's artifact at path, the owner first]}."""
    out = {}
    for vname in variants:
        for path in stage_keys(variants[vname]):
            out.setdefault((vname, path), [vname])
    for vname, path, owner in shared(variants):
        del out[(vname, path)]
        out[(owner, path)].append(vname)
    return out
