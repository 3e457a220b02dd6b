# Think metrics: the think phase's Pass@k and diversity on the train problems, and the figures of the round's
# SFT set (tpt.diversity). Eval's diversity is in eval_metrics' output. Nothing downstream but the report needs
# them: the rounds do not wait for this rule.
rule think_metrics:
    input:
        samples=f"{R}/round_{{round}}/think/samples.parquet",
        verdicts=f"{R}/round_{{round}}/think/verdicts.parquet",
        sft=f"{R}/round_{{round}}/prune/sft_train.parquet",
    output:
        f"{R}/round_{{round}}/think/metrics.parquet",
    log:
        f"{R}/logs/round_{{round}}/think_metrics.log",
    benchmark:
        f"{R}/benchmarks/round_{{round}}/think_metrics.tsv"
    wildcard_constraints:
        round=r"[1-9]\d*",  # round 0 has no think phase
    conda:
        conda_env("light")
    script:
        "../scripts/think_metrics.py"
