from tpt import artifacts, metrics, runlog

log = runlog.start_rule(snakemake)
samples = artifacts.read(snakemake.input.samples, artifacts.SAMPLES)
verdicts = artifacts.read(snakemake.input.verdicts, artifacts.VERDICTS)
sft = artifacts.read(snakemake.input.sft, artifacts.SFT)
table = metrics.think_metrics(samples, verdicts, sft, int(snakemake.wildcards.round))
artifacts.write(table, snakemake.output[0], artifacts.METRICS)
value = dict(zip(table.loc[table["k"].isna(), "metric"], table.loc[table["k"].isna(), "value"]))
log.info("round %s think: coverage %.1f%%, %.2f distinct correct solutions per problem; SFT set: %d examples "
         "from %d problems, %d distinct -> %s", snakemake.wildcards.round, 100 * value["coverage"],
         value["distinct_correct"], value["sft_examples"], value["sft_problems"], value["sft_distinct"],
         snakemake.output[0])
