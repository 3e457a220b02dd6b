ROUNDS = range(config["rounds"] + 1)  # round 0 evaluates the base model
TRAINED = range(1, config["rounds"] + 1)  # the rounds that think, prune and fine-tune


rule report:
    input:
        metrics=[metrics_path(r, "eval") for r in ROUNDS],
        verdicts=[verdicts_path(r, "eval") for r in ROUNDS],
        think_metrics=[metrics_path(r, "think") for r in TRAINED],
        curves=[training_curve_path(r) for r in TRAINED],
        # the cost's token counts (the think samples give the tokens of each example trained), the model cards
        think=[samples_path(r, "think") for r in TRAINED],
        eval=[samples_path(r, "eval") for r in ROUNDS],
        # think.auto_temperature: the probes' samples (their cost) and the temperatures they chose
        probes=[probe_samples_path(r) for r in TRAINED] if AUTO_TEMPERATURE else [],
        temperatures=[probe_path(r) for r in TRAINED] if AUTO_TEMPERATURE else [],
        sft=[sft_path(r) for r in TRAINED],
        models=[model_dir(r) for r in TRAINED],
        checks=[problem_checks_path(s) for s in (["train"] if config["rounds"] else []) + ["test"]],
    output:
        table=report_path("summary.parquet"),
        diversity=report_path("diversity.parquet"),
        markdown=report(report_path("summary.md"), caption="../report/summary.rst", category="Summary"),
        pass1=report(report_path("pass1.png"), caption="../report/pass1.rst", category="Plots"),
        passk=report(report_path("passk.png"), caption="../report/passk.rst", category="Plots"),
        solve_rate=report(report_path("solve_rate.png"), caption="../report/solve_rate.rst", category="Plots"),
        training=report(report_path("training_loss.png"), caption="../report/training_loss.rst", category="Plots"),
        cost=report_path("cost.parquet"),
        cost_table=report(report_path("cost.html"), caption="../report/cost_table.rst", category="Cost"),
        cost_plot=report(report_path("cost.png"), caption="../report/cost_plot.rst", category="Cost"),
        cards=[model_card_path(r) for r in TRAINED],
    log:
        log_path("report"),
    benchmark:
        benchmark_path("report")
    localrule: True
    conda:
        conda_env("light")
    params:
        rounds=list(ROUNDS),
        benchmarks=BENCHMARKS,  # every job's benchmark file (written by Snakemake, not a rule's output)
        resources=config["resources"],
        epochs=config["finetune"]["epochs"],
        splits=(["train"] if config["rounds"] else []) + ["test"],
    script:
        "../scripts/report.py"
