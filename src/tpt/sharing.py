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

from tpt.stages import code_task, settings


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
        add([f"data/{s}.parquet", f"data/{s}_checks.parquet"], "problems", [], split=s)
    if code_task(cfg):
        add(["judge/selftest.txt"], "judge_selftest", [])
    if cfg["model"]["base"] == "builtin":
        add(["models/round_0"], "base_model", [])
    else:
        out["models/round_0"] = (_key("hub", cfg["model"]["base"]), [])

    def sample_and_verify(r, phase, model):
        data = f"data/{ {'think': 'train', 'eval': 'test'}[phase]}.parquet"
        samples, verdicts = f"round_{r}/{phase}/samples.parquet", f"round_{r}/{phase}/verdicts.parquet"
        add([samples], "generate", [model, data], phase=phase, round_=r)
        add([verdicts], "verify", [samples, data], phase=phase, round_=r)
        return samples, verdicts

    def evaluate(r):
        add([f"round_{r}/eval/metrics.parquet"], "eval_metrics", sample_and_verify(r, "eval", f"models/round_{r}"))

    evaluate(0)
    for r in range(1, cfg["rounds"] + 1):
        samples, verdicts = sample_and_verify(r, "think", f"models/round_{r - 1}")
        earlier = f"round_{r - 1}/prune/sft_train.parquet" if cfg["prune"]["accumulate"] and r > 1 else None
        sft = f"round_{r}/prune/sft_train.parquet"
        add([sft, f"round_{r}/prune/sft_val.parquet"], "prune", [samples, verdicts, earlier], round_=r)
        add([f"round_{r}/think/metrics.parquet"], "think_metrics", [samples, verdicts, sft])
        ft = cfg["finetune"]
        init = f"models/round_{0 if ft['init'] == 'base' else r - 1}"
        mix = f"models/round_{0 if ft['interpolate']['with'] == 'base' else r - 1}" \
            if ft["interpolate"]["ratio"] < 1 else None
        # the model and its training curve: one job
        add([f"models/round_{r}", f"logs/round_{r}/finetune_loss.parquet"], "finetune", [sft, init, mix], round_=r)
        evaluate(r)
    if cfg["model"]["base"] != "builtin":
        del out["models/round_0"]
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


DIRECTORIES = ("models/",)  # artifacts that are folders


def benchmarks_of(path):
    """Glob patterns, under a run's benchmarks/ folder, of the files of the jobs that make artifact `path` (none
    for the second output of a job, e.g. sft_val.parquet: its job is counted with the first)."""
    m = re.fullmatch(r"round_(\d+)/(think|eval)/(samples|verdicts|metrics)\.parquet", path)
    if m:
        r, phase, what = m.groups()
        return [f"round_{r}/" + {"samples": f"generate_{phase}_*.tsv", "verdicts": f"verify_{phase}.tsv",
                                 "metrics": f"{phase}_metrics.tsv"}[what]]
    m = re.fullmatch(r"data/(train|test)\.parquet|models/round_(\d+)|round_(\d+)/prune/sft_train\.parquet|"
                     r"judge/selftest\.txt", path)
    if not m:
        return []
    split, model, prune = m.groups()
    if split:
        return [f"problems_{split}.tsv"]
    if model:
        return ["base_model.tsv"] if model == "0" else [f"round_{model}/finetune.tsv"]
    return [f"round_{prune}/prune.tsv"] if prune else ["judge_selftest.tsv"]


def link(owner_results, results, path, made_from=()):
    """Link <results>/<path> to <owner_results>/<path> (a relative symlink), and the benchmark files of the jobs
    that made it and the artifacts it is made from (made_from: upstream's) likewise into <results>/benchmarks/,
    so that the variant's cost counts every job it shares."""
    links = [(os.path.join(owner_results, path), os.path.join(results, path))]
    owner_bench = os.path.join(owner_results, "benchmarks")
    for pattern in [p for artifact in [path, *made_from] for p in benchmarks_of(artifact)]:
        for found in glob.glob(os.path.join(owner_bench, pattern)):
            links.append((found, os.path.join(results, "benchmarks", os.path.relpath(found, owner_bench))))
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
    problems. That is the reference for every variant evaluated on the test problems, and the reference's twin for
    the twins evaluated on validation problems (experiment.validation)."""
    first, out = {}, {}
    for name, cfg in variants.items():
        out[name] = first.setdefault(stage_keys(cfg)["data/test.parquet"], name)
    return out


def shared_models(variants):
    """[(owner, round, [every variant that uses the owner's fine-tuned model of that round, the owner first])]: the
    models that more than one variant uses."""
    out = []
    for (owner, path), names in users(variants).items():
        m = re.fullmatch(r"models/round_(\d+)", path)
        if m and int(m.group(1)) > 0 and len(names) > 1:
            out.append((owner, int(m.group(1)), names))
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
