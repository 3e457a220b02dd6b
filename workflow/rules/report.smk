rule report:
    input:
        metrics=expand(f"{R}/round_{{round}}/eval/metrics.parquet", round=range(config["rounds"] + 1)),
        verdicts=expand(f"{R}/round_{{round}}/eval/verdicts.parquet", round=range(config["rounds"] + 1)),
        think_metrics=expand(f"{R}/round_{{round}}/think/metrics.parquet", round=range(1, config["rounds"] + 1)),
        curves=expand(f"{R}/logs/round_{{round}}/finetune_loss.parquet", round=range(1, config["rounds"] + 1)),
        # the cost's token counts (the think samples give the tokens of each example trained), the model cards
        think=expand(f"{R}/round_{{round}}/think/samples.parquet", round=range(1, config["rounds"] + 1)),
        eval=expand(f"{R}/round_{{round}}/eval/samples.parquet", round=range(config["rounds"] + 1)),
        sft=expand(f"{R}/round_{{round}}/prune/sft_train.parquet", round=range(1, config["rounds"] + 1)),
        models=[model_dir(r) for r in range(1, config["rounds"] + 1)],
        checks=[problem_checks_path(s) for s in (["train"] if config["rounds"] else []) + ["test"]],
    output:
        table=f"{R}/report/summary.parquet",
        diversity=f"{R}/report/diversity.parquet",
        markdown=report(f"{R}/report/summary.md", caption="../report/summary.rst", category="Summary"),
        pass1=report(f"{R}/report/pass1.png", caption="../report/pass1.rst", category="Plots"),
        passk=report(f"{R}/report/passk.png", caption="../report/passk.rst", category="Plots"),
        solve_rate=report(f"{R}/report/solve_rate.png", caption="../report/solve_rate.rst", category="Plots"),
        training=report(f"{R}/report/training_loss.png", caption="../report/training_loss.rst", category="Plots"),
        cost=f"{R}/report/cost.parquet",
        cost_table=report(f"{R}/report/cost.html", caption="../report/cost_table.rst", category="Cost"),
        cost_plot=report(f"{R}/report/cost.png", caption="../report/cost_plot.rst", category="Cost"),
        cards=[f"{R}/report/model_cards/round_{r}.md" for r in range(1, config["rounds"] + 1)],
    log:
        f"{R}/logs/report.log",
    benchmark:
        f"{R}/benchmarks/report.tsv"
    conda:
        conda_env("light")
    params:
        rounds=list(range(config["rounds"] + 1)),
        benchmarks=f"{R}/benchmarks",  # every job's benchmark file (written by Snakemake, not a rule's output)
        resources=config["resources"],
        epochs=config["finetune"]["epochs"],
        splits=(["train"] if config["rounds"] else []) + ["test"],
    script:
        "../scripts/report.py"
