"""Experiments: variants of the recipe side by side in one Snakemake run.

An experiment is a config file (config/experiments/<name>.yaml, passed with --configfile) with an `experiment:`
section:

    experiment:
      name: diversity            # results go to <results>/<name>/<variant>/
      reference: paper           # the variant the others are compared with
      variants:                  # each: a name and the keys it sets, over the run's config (dotted or nested)
        - name: paper
        - name: distinct
          set: {prune.select: distinct, prune.per_problem: 4}
      grid:                      # optional: one more variant per combination, over the reference's settings
        prune.per_problem: [1, 2, 4]
        think.n: [4, 8]
      validation: true           # optional (built-in task): a twin <variant>-val of each variant, evaluated on
                                 # validation problems; it shares all its training with its variant
      replicates: 3              # optional: every variant with 3 seeds (the run's seed and the next two), or a
                                 # list of seeds [0, 7, 9]; results in <results>/<name>/<variant>/seed_<s>/
      claim_stderrs: 2           # with replicates: a variant is better (or worse) than the reference only when
                                 # its difference is above this many standard errors (tpt.compare.verdict)

Every variant is a whole run of the workflow (workflow/rules/experiment.smk imports the Snakefile once per
variant, as a Snakemake module). Work is shared by *stage keys* (tpt.sharing): each artifact's key is a hash of
exactly the config keys its stage reads and of the keys of the artifacts it is made from. Two variants whose
artifact has the same key would compute the same thing: the later one links to the first one's (`shared`), so
the problems, the base model, round 0's evaluation, and e.g. round 1's think, verify and prune of two variants
that differ only in fine-tuning keys are computed once.

Replicates (`replicates`) run each variant again with other run seeds (`seed`: every sample's seed, the draw of
think problems, prune's draw and the fine-tune's data order derive from it; the problems and the built-in base
model do not, so the replicates share them). A replicate is a variant named `<variant>/seed_<s>`.
"""
import copy
import itertools
import re

from tpt import paths
from tpt.config import ConfigError, check

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
FIELDS = {"name", "reference", "variants", "grid", "validation", "replicates", "claim_stderrs"}
CLAIM_STDERRS = 2  # the claim rule's default (tpt.compare.verdict)
REPLICATE = re.compile(r"^(?P<variant>.+)/seed_(?P<seed>\d+)$")  # a replicate's name (a variant's has no '/')


def replicate_name(variant, seed):
    return f"{variant}/seed_{seed}"


def replicate_of(name):
    """(variant, seed) of a replicate's name `<variant>/seed_<s>`; (name, None) for a variant without replicates."""
    m = REPLICATE.match(name)
    return (m.group("variant"), int(m.group("seed"))) if m else (name, None)


def claim_stderrs(exp):
    """The claim rule's threshold in standard errors (experiment.claim_stderrs), checked."""
    value = (exp or {}).get("claim_stderrs", CLAIM_STDERRS)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"experiment.claim_stderrs={value!r}: give a positive number of standard errors (e.g. 1 "
                          "or 2)")
    return value


def _flatten(overrides, prefix=""):
    """{"prune": {"select": "distinct"}, "think.n": 4} -> {"prune.select": "distinct", "think.n": 4}. A list is a
    value (think.temperatures), a dict is a level."""
    flat = {}
    for key, value in (overrides or {}).items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def _set(config, dotted, value, where):
    node, parts = config, dotted.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            known = ", ".join(sorted(node)) if isinstance(node, dict) else "none: it is a value"
            raise ConfigError(f"{where}: unknown key {dotted!r} ({'.'.join(parts[:i]) or 'the config'} has keys: "
                              f"{known})")
        if i == len(parts) - 1:
            node[part] = copy.deepcopy(value)
        else:
            node = node[part]


def expand(config, validate):
    """The variants of the experiment in config["experiment"]: a dict name -> full config (validated, with its own
    results folder), the reference first. validate(config) fills the schema's defaults and raises on a bad key.
    Every error names the variant and the key to fix."""
    exp = config.get("experiment") or {}
    base = {k: v for k, v in copy.deepcopy(config).items() if k != "experiment"}
    validate(base)
    unknown = set(exp) - FIELDS
    if unknown:
        raise ConfigError(f"experiment: unknown field(s) {sorted(unknown)} (allowed: {sorted(FIELDS)})")
    name = exp.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise ConfigError(f"experiment.name={name!r}: give a name of letters, digits, '_', '-' or '.'")
    specs = exp.get("variants") or []
    if not isinstance(specs, list) or not all(isinstance(v, dict) for v in specs):
        raise ConfigError("experiment.variants: give a list of {name: ..., set: {key: value}}")
    overrides = {}
    for spec in specs:
        vname = spec.get("name")
        if not isinstance(vname, str) or not NAME.match(vname):
            raise ConfigError(f"experiment.variants: variant name {vname!r}: use letters, digits, '_', '-' or '.'")
        extra = set(spec) - {"name", "set"}
        if extra:
            raise ConfigError(f"variant {vname!r}: unknown field(s) {sorted(extra)} (a variant has name and set)")
        if vname in overrides:
            raise ConfigError(f"experiment.variants: the name {vname!r} is used twice")
        overrides[vname] = _flatten(spec.get("set"))
    reference = exp.get("reference")
    if reference not in overrides:
        raise ConfigError(f"experiment.reference={reference!r} is not one of the variants ({', '.join(overrides)})")
    for vname, over in _grid(exp.get("grid"), overrides[reference]):
        if vname in overrides:
            raise ConfigError(f"experiment.grid: the variant name {vname!r} is used twice (a grid point has the name "
                              "of a listed variant)")
        overrides[vname] = over
    if exp.get("validation"):
        _add_validation_twins(overrides, reference, base["task"])
    claim_stderrs(exp)
    seeds = _seeds(exp.get("replicates"), base["seed"])

    runs = {}  # each run's name -> (its variant, its seed or None, its overrides)
    for vname in [reference] + [v for v in overrides if v != reference]:
        if seeds and "seed" in overrides[vname]:
            raise ConfigError(f"experiment variant {vname!r}: sets seed, which experiment.replicates sets for each "
                              "replicate: remove one of them")
        for seed in seeds or [None]:
            extra = {"seed": seed} if seed is not None else {}
            runs[replicate_name(vname, seed) if seeds else vname] = (vname, seed, {**overrides[vname], **extra})
    idents = {}
    for rname in runs:  # module and rule names: '-', '.' (and a replicate's '/') become '_': a-b and a_b collide
        other = idents.setdefault(identifier(rname), rname)
        if other != rname:
            raise ConfigError(f"experiment.variants: the names {other!r} and {rname!r} differ only in '-', '.' or "
                              "'_': rename one")
    variants = {}
    for rname, (vname, seed, over) in runs.items():
        where = f"experiment variant {rname!r}"
        cfg = copy.deepcopy(base)
        for dotted, value in over.items():
            if dotted == "results":
                raise ConfigError(f"{where}: results is set by the experiment (<results>/<name>/<variant>)")
            _set(cfg, dotted, value, where)
        try:
            validate(cfg)
            check(cfg)
        except Exception as e:  # the schema's and check's messages name the key; add the variant
            raise ConfigError(f"{where}: {e}") from e
        cfg["results"] = paths.variant(base["results"], name, vname, seed)
        variants[rname] = cfg
    return name, reference, variants


def _seeds(replicates, seed):
    """The replicates' seeds: experiment.replicates N -> the run's seed and the N - 1 after it; a list -> itself;
    absent -> [] (no replicates)."""
    if replicates is None:
        return []
    if isinstance(replicates, bool) or not isinstance(replicates, (int, list)):
        raise ConfigError(f"experiment.replicates={replicates!r}: give a number of seeds (e.g. 3) or a list of seeds")
    if isinstance(replicates, int):
        if replicates < 1:
            raise ConfigError(f"experiment.replicates={replicates}: give at least 1 seed (or remove the key)")
        return list(range(seed, seed + replicates))
    if not replicates or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in replicates):
        raise ConfigError(f"experiment.replicates={replicates!r}: give a non-empty list of seeds (whole numbers >= "
                          "0)")
    twice = sorted({s for s in replicates if replicates.count(s) > 1})
    if twice:
        raise ConfigError(f"experiment.replicates={replicates!r}: seed(s) {twice} listed twice (a replicate is another "
                          "seed)")
    return list(replicates)


def _add_validation_twins(overrides, reference, task):
    """experiment.validation: a twin `<variant>-val` of every variant (the reference's first), evaluated on
    validation problems (the built-in task's `evaluate_on: validation`: fresh problems drawn like the train ones)
    instead of the test problems. Its training is the same as its variant's (tpt.stages leaves evaluate_on out of
    the train side), so a twin costs only its evaluations: settings are chosen on the twins' figures, and the test
    figures are read once, after choosing."""
    if task["name"] != "arith":
        raise ConfigError(f"experiment.validation: only the built-in task (task.name: arith) makes validation "
                          f"problems, not {task['name']!r}: remove experiment.validation, or hold out problems of "
                          "your own as the test split of a copy of your config")
    for vname in [reference] + [v for v in overrides if v != reference]:
        twin = f"{vname}-val"
        if twin in overrides:
            raise ConfigError(f"experiment.validation: the twin of {vname!r} would be named {twin!r}, a variant's "
                              "name: rename that variant")
        overrides[twin] = {**overrides[vname], "task.arith.evaluate_on": "validation"}


def identifier(name):
    """A variant's (or replicate's) name as a Python identifier: its Snakemake module and the prefix of its
    rules."""
    return "v_" + re.sub(r"\W", "_", name)


def _grid(grid, reference):
    """(name, overrides) of every combination of the grid's values, each over the reference's overrides."""
    if not grid:
        return []
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise ConfigError("experiment.grid: give {key: [value, value, ...]} (every key a non-empty list)")
    keys = list(grid)
    out = []
    for values in itertools.product(*(grid[k] for k in keys)):
        label = "_".join(f"{k.split('.')[-1]}-{v}" for k, v in zip(keys, values))
        out.append((re.sub(r"[^A-Za-z0-9_.-]", "", label), {**reference, **dict(zip(keys, values))}))
    return out
