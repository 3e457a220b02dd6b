import pandas as pd

from tpt import artifacts, metrics, report, runlog
from tpt.code import validate

log = runlog.start(snakemake)
out = snakemake.output
all_metrics = pd.concat([artifacts.read(p, artifacts.METRICS) for p in snakemake.input.metrics])
table = report.summary(all_metrics)
solve_rate = pd.DataFrame({r: metrics.per_problem_accuracy(artifacts.read(v, artifacts.VERDICTS))
                           for r, v in zip(snakemake.params.rounds, snakemake.input.verdicts)})

with artifacts.atomic(out.table) as tmp:
    table.to_parquet(tmp, index=False)
# code tasks with task.validate: how many problems the known solutions flagged or dropped, per split
checks = {s: artifacts.read(p, artifacts.PROBLEM_CHECKS) for s, p in zip(snakemake.params.splits, snakemake.input.checks)}
checks_md = validate.markdown(checks) if any(c["checked"].any() for c in checks.values()) else ""
with artifacts.atomic(out.markdown) as tmp, open(tmp, "w") as f:
    f.write(report.markdown(table) + ("\n" + checks_md if checks_md else ""))
with artifacts.atomic(out.pass1) as tmp:
    report.plot_pass1(table, tmp)
with artifacts.atomic(out.passk) as tmp:
    report.plot_passk(all_metrics, tmp)
with artifacts.atomic(out.solve_rate) as tmp:
    report.plot_solve_rate(solve_rate, tmp)
log.info("report:\n%s", report.markdown(table))
