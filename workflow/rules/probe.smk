# Probe (think.auto_temperature, B-STaR): before a round thinks, its model samples think.n solutions to the first
# probe_problems of the round's problems at each temperature of the grid, the task's verifier scores them, and the
# temperature with the best balance score is the one the round's think jobs sample at (tpt.probe). One job (the
# probe is small): its samples are kept for the record and the cost table, its verdicts as PROBE's figures.
rule probe:
    input:
        problems=problems_path("train"),
        model=lambda w: model_input(int(w.round) - 1),
        selftest=[JUDGE_SELFTEST] if CODE_TASK else [],
    output:
        table=probe_path(),
        samples=probe_samples_path(),
    log:
        log_path("probe", "{round}"),
    benchmark:
        benchmark_path("probe", "{round}")
    wildcard_constraints:
        round=r"[1-9]\d*",  # round 0 does not think
    conda:
        conda_env("sample", "generate")
    threads: config["threads"]["generate"]
    resources:
        **job_resources("generate"),
    params:
        model=lambda w: model_of(int(w.round) - 1),
        task=lambda w: stages.param(config, "probe", "task", round_=int(w.round)),
        think=lambda w: stages.param(config, "probe", "think", round_=int(w.round)),
        sampling=lambda w: stages.param(config, "probe", "sampling", round_=int(w.round)),
        verify=lambda w: stages.param(config, "probe", "verify", round_=int(w.round)),
        seed=config["seed"],
    script:
        "../scripts/probe.py"
