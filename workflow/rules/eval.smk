# Evaluate: the eval samples are drawn by `generate` (phase "eval") and scored by `verify`; this rule turns
# their verdicts into the round's metrics.
rule eval_metrics:
    input:
        samples=samples_path(phase="eval"),
        verdicts=verdicts_path(phase="eval"),
    output:
        metrics_path(phase="eval"),
    log:
        log_path("eval_metrics", "{round}"),
    benchmark:
        benchmark_path("eval_metrics", "{round}")
    localrule: True
    conda:
        conda_env("light")
    script:
        "../scripts/eval_metrics.py"
