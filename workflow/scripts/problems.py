from tpt import artifacts, runlog, tasks

log = runlog.start(snakemake)
task = snakemake.params.task
split = snakemake.wildcards.split
problems = tasks.get(task["name"]).load(split, {**task, **task.get(task["name"], {})})
artifacts.write(problems, snakemake.output[0], artifacts.PROBLEMS)
log.info("%s %s: %d problems -> %s", task["name"], split, len(problems), snakemake.output[0])
