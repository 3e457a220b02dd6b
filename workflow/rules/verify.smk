rule verify:
    input:
        samples=f"{R}/round_{{round}}/{{phase}}/samples.parquet",
        problems=lambda w: problems_path(SPLIT[w.phase]),
    output:
        f"{R}/round_{{round}}/{{phase}}/verdicts.parquet",
    log:
        f"{R}/logs/round_{{round}}/verify_{{phase}}.log",
    benchmark:
        f"{R}/benchmarks/round_{{round}}/verify_{{phase}}.tsv",
    params:
        task=config["task"],
        criterion=config["verify"]["criterion"],
    script:
        "../scripts/verify.py"
