rule prune:
    input:
        samples=f"{R}/round_{{round}}/think/samples.parquet",
        verdicts=f"{R}/round_{{round}}/think/verdicts.parquet",
        earlier=earlier_sft,  # prune.accumulate: the previous round's training set joins this one's
    output:
        train=f"{R}/round_{{round}}/prune/sft_train.parquet",
        val=f"{R}/round_{{round}}/prune/sft_val.parquet",
    log:
        f"{R}/logs/round_{{round}}/prune.log",
    benchmark:
        f"{R}/benchmarks/round_{{round}}/prune.tsv"
    wildcard_constraints:
        round=r"[1-9]\d*",  # round 0 is the base model: nothing to prune or train
    conda:
        conda_env("light")
    params:
        prune=config["prune"],
    script:
        "../scripts/prune.py"
