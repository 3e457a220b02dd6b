# An experiment (tpt.experiment): the variants of config["experiment"] in one DAG. Each variant is this workflow
# again, imported as a Snakemake module with its own config and results folder (<results>/<experiment>/<variant>);
# its rules are named <variant>_<rule>. An artifact that an earlier variant computes with the same stage key
# (the same settings and inputs) is not computed again: a `share_*` rule links it into the later variant's folder,
# and Snakemake prefers that rule (ruleorder) to the variant's own.
import re

from snakemake.utils import validate

from tpt import experiment

EXPERIMENT, REFERENCE, VARIANTS = experiment.expand(
    config, lambda cfg: validate(cfg, os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"))
)
MODULE = {name: experiment.identifier(name) for name in VARIANTS}  # module and rule-name prefix


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
    log:
        experiment_path(EXPERIMENT, "logs/experiment_report.log"),
    localrule: True
    conda:
        conda_env("light")
    params:
        experiment=EXPERIMENT,
        reference=REFERENCE,
        variants={name: {"results": c["results"], "rounds": c["rounds"]} for name, c in VARIANTS.items()},
        owners=[list(t) for t in experiment.shared(VARIANTS)],
        partners=experiment.partners(VARIANTS),
    script:
        "../scripts/experiment_report.py"


for _name, _cfg in VARIANTS.items():
    workflow.module(MODULE[_name], snakefile=os.path.join(workflow.basedir, "Snakefile"), config=_cfg)
    workflow.userule(["*"], from_module=MODULE[_name], name_modifier=MODULE[_name] + "_*")(lambda: None)

for _name, _path, _owner in experiment.shared(VARIANTS):
    _out, _src = f"{VARIANTS[_name]['results']}/{_path}", f"{VARIANTS[_owner]['results']}/{_path}"
    _rule = re.sub(r"\W", "_", f"share_{_name}_{_path}")  # e.g. share_wise_round_1_think_samples_parquet

    rule:
        name:
            _rule
        input:
            _src,
        output:
            directory(_out) if _path.startswith(experiment.DIRECTORIES) else _out,
        localrule: True
        params:
            target=os.path.relpath(_src, os.path.dirname(_out)),
        shell:
            "ln -sfn {params.target:q} {output:q}"

    for _own in [r.name for r in workflow.rules if r.name.startswith(MODULE[_name] + "_")]:
        workflow.ruleorder(_rule, _own)
