import os
import sys

# tpt: Think, Prune, Train, Improve (Costello et al., 2025) as a Snakemake workflow.
# Each round r: think (sample from model r-1 on train problems), verify, prune, finetune into model r,
# then evaluate model r on the test problems. Round 0 evaluates the base model. See README.md.


# Defaults: every key's default is in workflow/schemas/config.schema.yaml (the paper's recipe; `validate` in
# common.smk fills them in). config.yaml is the default run: the few keys it changes for a tiny run on a laptop.
# It is read only when no --configfile is given, so a preset (--configfile config/presets/<name>.yaml) is laid
# over the schema's defaults, not over the tiny run. To change the default run, name both files, later ones
# winning: --configfile config.yaml my.yaml (--config key=value works either way).
if not workflow.overwrite_configfiles:  # the --configfile files of the command line

    configfile: os.path.join(workflow.basedir, "config.yaml")


report: "workflow/report/workflow.rst"


# The workflow's package, tpt, comes from its own src/: while the workflow is parsed and in the jobs (Snakemake
# passes this search path on to `script:` jobs; the finetune command gets it from JOB_PYTHON in common.smk), so
# the rules' conda environments (envs/, --sdm conda) hold only third-party software.
sys.path.insert(0, os.path.join(workflow.basedir, "src"))


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/probe.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/verify.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/eval.smk"
include: "workflow/rules/diversity.smk"
include: "workflow/rules/report.smk"


# An experiment file (config/experiments/*.yaml, with --configfile) runs its variants side by side, each as a
# module of this Snakefile (workflow/rules/experiment.smk); `all` then builds every variant and the comparison.
if "experiment" in config:

    include: "workflow/rules/experiment.smk"


# Light jobs (a few seconds of pandas: all, problems, gather_samples, prune, eval_metrics, think_metrics, report)
# say `localrule: True`: they run in Snakemake's own process even on a cluster, as a SLURM job per step would cost
# more in queueing than the work. `verify` stays a job: code tasks run model-written programs there. (The flag is
# on each rule, not in a `localrules:` list, because an experiment's variants import the rules under new names.)
rule all:
    input:
        experiment_outputs() if "experiment" in config else report_outputs(),
    localrule: True
