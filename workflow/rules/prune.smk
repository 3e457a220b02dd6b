rule prune:
    input:
        samples=samples_path(phase="think"),
        verdicts=verdicts_path(phase="think"),
        earlier=earlier_sft,  # prune.accumulate: the previous round's training set joins this one's
    output:
        train=sft_path(part="train"),
        val=sft_path(part="val"),
    log:
        log_path("prune", "{round}"),
    benchmark:
        benchmark_path("prune", "{round}")
    wildcard_constraints:
        round=r"[1-9]\d*",  # round 0 is the base model: nothing to prune or train
    localrule: True
    conda:
        conda_env("light")
    params:
        prune=lambda w: stages.param(config, "prune", "prune", round_=int(w.round)),
    script:
        "../scripts/prune.py"
