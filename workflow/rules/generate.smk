# Think (phase "think": the previous round's model on train problems) and the sampling half of evaluation
# (phase "eval": this round's model on test problems). One rule, one artifact format, two settings sections.
# A phase's problems are split into `shards` jobs (think.shards, eval.shards); gather_samples joins them into
# the same artifact an unsharded run writes, so a lost shard costs only that shard.
rule generate:
    input:
        problems=lambda w: problems_path(SPLIT[w.phase]),
        model=lambda w: model_input(generation_model(w)),
        probe=think_probe,  # think.auto_temperature: the temperature this round's think samples at
    output:
        shard_path(),
    log:
        log_path("generate_{phase}_{shard}", "{round}"),
    benchmark:
        benchmark_path("generate_{phase}_{shard}", "{round}")
    conda:
        conda_env("sample", "generate")
    threads: config["threads"]["generate"]
    resources:
        **job_resources("generate"),
    params:
        model=lambda w: model_of(generation_model(w)),
        task=lambda w: stages.param(config, "generate", "task", phase=w.phase, round_=int(w.round)),
        settings=lambda w: stages.param(config, "generate", w.phase, phase=w.phase, round_=int(w.round)),
        sampling=lambda w: stages.param(config, "generate", "sampling", phase=w.phase, round_=int(w.round)),
        seed=config["seed"],
    script:
        "../scripts/generate.py"


# Runs in Snakemake's own process (a local rule with a `run:` block): joining Parquet files needs no job.
rule gather_samples:
    input:
        lambda w: [shard_path(w.round, w.phase, s) for s in range(config[w.phase]["shards"])],
    output:
        samples_path(),
    log:
        log_path("gather_{phase}", "{round}"),
    localrule: True
    run:
        from tpt import sampling

        sampling.gather_files(list(input), output[0], log[0])
