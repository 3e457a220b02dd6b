rule prune:
    input:
        samples=f"{R}/round_{{round}}/think/samples.parquet",
        verdicts=f"{R}/round_{{round}}/think/verdicts.parquet",
    output:
        train=f"{R}/round_{{round}}/prune/sft_train.parquet",
        val=f"{R}/round_{{round}}/prune/sft_val.parquet",
    log:
        f"{R}/logs/round_{{round}}/prune.log",
    params:
        prune=config["prune"],
    script:
        "../scripts/prune.py"
