from tpt import artifacts, prune, runlog

log = runlog.start_rule(snakemake)
samples = artifacts.read(snakemake.input.samples, artifacts.SAMPLES)
verdicts = artifacts.read(snakemake.input.verdicts, artifacts.VERDICTS)
earlier = artifacts.read(snakemake.input.earlier[0], artifacts.SFT) if snakemake.input.earlier else None
train, val = prune.prune(samples, verdicts, snakemake.params.prune, int(snakemake.wildcards.round), earlier)
artifacts.write(train, snakemake.output.train, artifacts.SFT)
artifacts.write(val, snakemake.output.val, artifacts.SFT)
log.info("%d samples -> %d training and %d validation examples from %d problems", len(samples), len(train),
         len(val), train["problem_id"].nunique())
