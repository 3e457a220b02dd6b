# Think metrics: the think phase's Pass@k and diversity on the train problems, and the figures of the round's
# SFT set (tpt.diversity). Eval's diversity is in eval_metrics' output. Nothing downstream but the report needs
# them: the rounds do not wait for this rule.
rule think_metrics:
    input:
        samples=samples_path(phase="think"),
        verdicts=verdicts_path(phase="think"),
        sft=sft_path(),
    output:
        metrics_path(phase="think"),
    log:
        log_path("think_metrics", "{round}"),
    benchmark:
        benchmark_path("think_metrics", "{round}")
    wildcard_constraints:
        round=r"[1-9]\d*",  # round 0 has no think phase
    localrule: True
    conda:
        conda_env("light")
    script:
        "../scripts/think_metrics.py"
