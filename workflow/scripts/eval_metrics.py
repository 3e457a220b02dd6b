from tpt import artifacts, metrics, runlog

log = runlog.start_rule(snakemake)
samples = artifacts.read(snakemake.input.samples, artifacts.SAMPLES)
verdicts = artifacts.read(snakemake.input.verdicts, artifacts.VERDICTS)
table = metrics.eval_metrics(samples, verdicts, int(snakemake.wildcards.round))
artifacts.write(table, snakemake.output[0], artifacts.METRICS)
pass1 = table[(table["metric"] == "pass@k_strict") & (table["k"] == 1)].iloc[0]
log.info("round %s: strict Pass@1 %.1f%% ± %.1f -> %s", snakemake.wildcards.round, 100 * pass1["value"],
         100 * pass1["stderr"], snakemake.output[0])
