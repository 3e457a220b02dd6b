from tpt import artifacts, runlog, train

log = runlog.start(snakemake)
rows = artifacts.read(snakemake.input.train, artifacts.SFT).to_dict("records")
val = artifacts.read(snakemake.input.val, artifacts.SFT).to_dict("records")
log.info("fine-tuning %s on %d examples (%d validation)", snakemake.params.model, len(rows), len(val))
figures = train.finetune(snakemake.params.model, snakemake.output[0], rows, val, snakemake.params.finetune,
                         snakemake.params.scratch, threads=snakemake.threads)
log.info("done: %s -> %s", figures, snakemake.output[0])
