# Think (phase "think": the previous round's model on train problems) and the sampling half of evaluation
# (phase "eval": this round's model on test problems). One rule, one artifact format, two settings sections.
rule generate:
    input:
        problems=lambda w: problems_path(SPLIT[w.phase]),
        model=lambda w: model_input(generation_model(w)),
    output:
        f"{R}/round_{{round}}/{{phase}}/samples.parquet",
    log:
        f"{R}/logs/round_{{round}}/generate_{{phase}}.log",
    benchmark:
        f"{R}/benchmarks/round_{{round}}/generate_{{phase}}.tsv",
    params:
        model=lambda w: model_of(generation_model(w)),
        task=config["task"],
        settings=lambda w: config[w.phase],
        sampling=config["sampling"],
        seed=config["seed"],
    threads: config["threads"]["generate"]
    script:
        "../scripts/generate.py"
