# An experiment (tpt.experiment): the variants of config["experiment"] in one DAG. Each variant is this workflow
# again, imported as a Snakemake module with its own config and results folder (<results>/<experiment>/<variant>);
# its rules are named v_<variant>_<rule>. An artifact that an earlier variant computes with the same stage key
# (tpt.sharing: the same settings and inputs) is not computed again: the rule `share` (`share_folder` for a model)
# links it into the later variant's folder, and Snakemake prefers those rules (ruleorder) to the variant's own.
import re

from snakemake.utils import validate

from tpt import experiment, sharing

EXPERIMENT, REFERENCE, VARIANTS = experiment.expand(
    config, lambda cfg: validate(cfg, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"))
)
MODULE = {name: experiment.identifier(name) for name in VARIANTS}  # module and rule-name prefix

# What each variant links instead of computing: {its path: the owner's path}, models (folders) apart from files.
# One rule each, with the shared paths as the only values its wildcard may take.
SHARED = sharing.shared(VARIANTS)
PLANS = {name: sharing.plan(cfg) for name, cfg in VARIANTS.items()}
# The models several variants use: (owner, round, {variant: the keys it sets otherwise than the owner})
SHARED_MODELS = [
    (owner, r, {name: sharing.differing(VARIANTS[owner], VARIANTS[name]) for name in names})
    for owner, r, names in sharing.shared_models(VARIANTS)
]
LINKS = {  # the link -> (the owner's results folder, the variant's, the path under them, what it is made from)
    f"{VARIANTS[name]['results']}/{path}": (
        VARIANTS[owner]["results"],
        VARIANTS[name]["results"],
        path,
        sharing.upstream(PLANS[owner], path),
    )
    for name, path, owner in SHARED
}


def every_round(path, first=0, **kwargs):
    """path(round, results=...) (a helper of common.smk) of every round of every variant."""
    return [path(r, results=c["results"], **kwargs) for c in VARIANTS.values() for r in range(first, c["rounds"] + 1)]


def experiment_outputs():
    """What `snakemake` builds for an experiment: every variant's report and the comparison."""
    return [report_path("summary.md", c["results"]) for c in VARIANTS.values()] + [
        experiment_path(EXPERIMENT, "comparison/table.md")
    ]


rule experiment_report:
    input:
        eval=every_round(metrics_path, phase="eval"),
        think=every_round(metrics_path, first=1, phase="think"),
        verdicts=every_round(verdicts_path, phase="eval"),
        models=[model_dir(r, VARIANTS[owner]["results"]) for owner, r, _ in SHARED_MODELS],
    output:
        table=experiment_path(EXPERIMENT, "comparison/table.parquet"),
        markdown=report(
            experiment_path(EXPERIMENT, "comparison/table.md"),
            caption="../report/experiment.rst",
            category="Experiment",
        ),
        pass1=report(
            experiment_path(EXPERIMENT, "comparison/pass1.png"),
            caption="../report/experiment.rst",
            category="Experiment",
        ),
        passk=report(
            experiment_path(EXPERIMENT, "comparison/passk.png"),
            caption="../report/experiment.rst",
            category="Experiment",
        ),
        cards=directory(experiment_path(EXPERIMENT, "comparison/model_cards")),
    log:
        experiment_log_path(EXPERIMENT, "experiment_report"),
    localrule: True
    conda:
        conda_env("light")
    params:
        experiment=EXPERIMENT,
        reference=REFERENCE,
        variants={name: {"results": c["results"], "rounds": c["rounds"]} for name, c in VARIANTS.items()},
        owners=[list(t) for t in SHARED],
        partners=sharing.partners(VARIANTS),
        shared_models=SHARED_MODELS,
        replicates="replicates" in config["experiment"],
        claim_stderrs=experiment.claim_stderrs(config["experiment"]),
    script:
        "../scripts/experiment_report.py"


for _name, _cfg in VARIANTS.items():
    workflow.module(MODULE[_name], snakefile=os.path.join(workflow.basedir, "Snakefile"), config=_cfg)
    workflow.userule(["*"], from_module=MODULE[_name], name_modifier=MODULE[_name] + "_*")(lambda: None)


def shared_paths(folders):
    """A regular expression of the linked paths that are folders (or files): `(?!)`, matching nothing, if none."""
    links = [p for p in LINKS if sharing.is_folder(LINKS[p][2]) == folders]
    return "|".join(re.escape(p) for p in sorted(links)) or "(?!)"


def link_source(wildcards):
    owner, _, path, _ = LINKS[wildcards.shared]
    return f"{owner}/{path}"


rule share:
    input:
        link_source,
    output:
        "{shared}",
    wildcard_constraints:
        shared=shared_paths(folders=False),
    localrule: True
    run:
        sharing.link(*LINKS[wildcards.shared])


rule share_folder:
    input:
        link_source,
    output:
        directory("{shared}"),
    wildcard_constraints:
        shared=shared_paths(folders=True),
    localrule: True
    run:
        sharing.link(*LINKS[wildcards.shared])


for _rule in [r.name for r in workflow.rules if r.name.startswith("v_")]:
    workflow.ruleorder("share", _rule)
    workflow.ruleorder("share_folder", _rule)
