import pandas as pd

from tpt import artifacts, metrics, report, runlog

log = runlog.start(snakemake)
out = snakemake.output
all_metrics = pd.concat([artifacts.read(p, artifacts.METRICS) for p in snakemake.input.metrics])
table = report.summary(all_metrics)
think_metrics = pd.concat([artifacts.read(p, artifacts.METRICS) for p in snakemake.input.think]
                          or [pd.DataFrame(columns=artifacts.METRICS.names)])
spread = report.diversity(all_metrics, think_metrics)
solve_rate = pd.DataFrame({r: metrics.per_problem_accuracy(artifacts.read(v, artifacts.VERDICTS))
                           for r, v in zip(snakemake.params.rounds, snakemake.input.verdicts)})

with artifacts.atomic(out.table) as tmp:
    table.to_parquet(tmp, index=False)
with artifacts.atomic(out.markdown) as tmp, open(tmp, "w") as f:
    f.write(report.markdown(table))
    f.write("\nDiversity (tpt.diversity): coverage = share of problems with a correct sample; distinct = "
            "distinct correct solutions per problem by their equations (math) or normalized tokens (code)\n\n")
    f.write(report.diversity_markdown(spread))
with artifacts.atomic(out.diversity) as tmp:
    spread.to_parquet(tmp, index=False)
with artifacts.atomic(out.pass1) as tmp:
    report.plot_pass1(table, tmp)
with artifacts.atomic(out.passk) as tmp:
    report.plot_passk(all_metrics, tmp)
with artifacts.atomic(out.solve_rate) as tmp:
    report.plot_solve_rate(solve_rate, tmp)
log.info("report:\n%s", report.markdown(table))
