from tpt import artifacts, runlog, tasks, verify

log = runlog.start_rule(snakemake)
samples = artifacts.read(snakemake.input.samples, artifacts.SAMPLES)
problems = artifacts.read(snakemake.input.problems, artifacts.PROBLEMS)
options = {**snakemake.params.verify, "workers": snakemake.threads}
verdicts = verify.verify(samples, problems, tasks.from_config(snakemake.params.task), options)
artifacts.write(verdicts, snakemake.output[0], artifacts.VERDICTS)
log.info("%d samples: %.1f%% correct (%s), %.1f%% without an answer -> %s", len(verdicts),
         100 * verdicts["correct"].mean(), options["criterion"], 100 * (~verdicts["parsed"]).mean(),
         snakemake.output[0])
if artifacts.judged(verdicts):
    log.info("judge (%s): %s", verdicts["backend"].iloc[0], verdicts["failure"].replace("", "passed").value_counts()
             .to_dict())
