from tpt import artifacts, runlog, tasks

log = runlog.start(snakemake)
task = snakemake.params.task
split = snakemake.wildcards.split
problems = tasks.from_config(task).load(split, tasks.options_of(task))
artifacts.write(problems, snakemake.output[0], artifacts.PROBLEMS)
log.info("%s %s: %d problems -> %s", task["name"], split, len(problems), snakemake.output[0])
