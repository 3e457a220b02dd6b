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

Every variant is a whole run of the workflow (workflow/rules/experiment.smk imports the Snakefile once per
variant, as a Snakemake module). Work is shared by *stage keys* (tpt.sharing): each artifact's key is a hash of
exactly the config keys its stage reads and of the keys of the artifacts it is made from. Two variants whose
artifact has the same key would compute the same thing: the later one links to the first one's (`shared`), so
the problems, the base model, round 0's evaluation, and e.g. round 1's think, verify and prune of two variants
that differ only in fine-tuning keys are computed once.
"""
import copy
import itertools
import re

from tpt.config import ConfigError, check

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
FIELDS = {"name", "reference", "variants", "grid", "validation"}


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

    idents = {}
    for vname in overrides:  # module and rule names: '-' and '.' become '_', so a-b and a_b would collide
        other = idents.setdefault(identifier(vname), vname)
        if other != vname:
            raise ConfigError(f"experiment.variants: the names {other!r} and {vname!r} differ only in '-', '.' or "
                              "'_': rename one")
    variants = {}
    for vname in [reference] + [v for v in overrides if v != reference]:
        where = f"experiment variant {vname!r}"
        cfg = copy.deepcopy(base)
        for dotted, value in overrides[vname].items():
            if dotted == "results":
                raise ConfigError(f"{where}: results is set by the experiment (<results>/<name>/<variant>)")
            _set(cfg, dotted, value, where)
        try:
            validate(cfg)
            check(cfg)
        except Exception as e:  # the schema's and check's messages name the key; add the variant
            raise ConfigError(f"{where}: {e}") from e
        cfg["results"] = f"{base['results']}/{name}/{vname}"
        variants[vname] = cfg
    return name, reference, variants


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
    """A variant's name as a Python identifier: its Snakemake module and the prefix of its rules."""
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
