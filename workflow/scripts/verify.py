from tpt import artifacts, runlog, tasks, verify

log = runlog.start(snakemake)
samples = artifacts.read(snakemake.input.samples, artifacts.SAMPLES)
problems = artifacts.read(snakemake.input.problems, artifacts.PROBLEMS)
verdicts = verify.verify(samples, problems, tasks.get(snakemake.params.task["name"]).score,
                         snakemake.params.criterion)
artifacts.write(verdicts, snakemake.output[0], artifacts.VERDICTS)
log.info("%d samples: %.1f%% correct (%s), %.1f%% without an answer -> %s", len(verdicts),
         100 * verdicts["correct"].mean(), snakemake.params.criterion, 100 * (~verdicts["parsed"]).mean(),
         snakemake.output[0])
