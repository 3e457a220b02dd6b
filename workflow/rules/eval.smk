# Evaluate: the eval samples are drawn by `generate` (phase "eval") and scored by `verify`; this rule turns
# their verdicts into the round's metrics.
rule eval_metrics:
    input:
        samples=f"{R}/round_{{round}}/eval/samples.parquet",
        verdicts=f"{R}/round_{{round}}/eval/verdicts.parquet",
    output:
        f"{R}/round_{{round}}/eval/metrics.parquet",
    log:
        f"{R}/logs/round_{{round}}/eval_metrics.log",
    benchmark:
        f"{R}/benchmarks/round_{{round}}/eval_metrics.tsv"
    conda:
        conda_env("light")
    script:
        "../scripts/eval_metrics.py"
