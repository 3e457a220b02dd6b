from tpt import artifacts, runlog, tasks
from tpt.code.validate import summary

log = runlog.start_rule(snakemake)
task = snakemake.params.task
split = snakemake.wildcards.split
module, options = tasks.from_config(task), tasks.options_of(task)
problems = module.load(split, options)
# code tasks with task.validate.solutions > 0: known solutions through the judge (tpt.code.validate)
checks = artifacts.PROBLEM_CHECKS.empty_table().to_pandas()
if task["validate"]["solutions"] > 0 and hasattr(module, "check_problems"):
    checks = module.check_problems(split, options, snakemake.params.code)
    problems = problems[~problems["problem_id"].isin(checks["problem_id"][checks["action"] == "drop"])]
    log.info("%s %s: problem checks %s", task["name"], split, summary(checks))
    if problems.empty:
        runlog.fail(log, f"every {split} problem was dropped by task.validate ({summary(checks)}): keep or flag "
                    "them instead")
if snakemake.params.rehearsal:
    from tpt import rehearsal

    problems = rehearsal.cut(problems, split, snakemake.params.rehearsal)
artifacts.write(checks, snakemake.output.checks, artifacts.PROBLEM_CHECKS)
artifacts.write(problems, snakemake.output.problems, artifacts.PROBLEMS)
log.info("%s %s: %d problems -> %s", task["name"], split, len(problems), snakemake.output.problems)
