rule report:
    input:
        metrics=expand(f"{R}/round_{{round}}/eval/metrics.parquet", round=range(config["rounds"] + 1)),
        verdicts=expand(f"{R}/round_{{round}}/eval/verdicts.parquet", round=range(config["rounds"] + 1)),
        checks=[problem_checks_path(s) for s in (["train"] if config["rounds"] else []) + ["test"]],
    output:
        table=f"{R}/report/summary.parquet",
        markdown=report(f"{R}/report/summary.md", caption="../report/summary.rst", category="Summary"),
        pass1=report(f"{R}/report/pass1.png", caption="../report/pass1.rst", category="Plots"),
        passk=report(f"{R}/report/passk.png", caption="../report/passk.rst", category="Plots"),
        solve_rate=report(f"{R}/report/solve_rate.png", caption="../report/solve_rate.rst", category="Plots"),
    log:
        f"{R}/logs/report.log",
    benchmark:
        f"{R}/benchmarks/report.tsv",
    params:
        rounds=list(range(config["rounds"] + 1)),
        splits=(["train"] if config["rounds"] else []) + ["test"],
    script:
        "../scripts/report.py"
