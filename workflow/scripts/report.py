import pandas as pd

from tpt import artifacts, card, cost, metrics, report, runlog

log = runlog.start_rule(snakemake)
out = snakemake.output
all_metrics = pd.concat([artifacts.read(p, artifacts.METRICS) for p in snakemake.input.metrics])
table = report.summary(all_metrics)
think_metrics = pd.concat([artifacts.read(p, artifacts.METRICS) for p in snakemake.input.think_metrics]
                          or [pd.DataFrame(columns=artifacts.METRICS.names)])
spread = report.diversity(all_metrics, think_metrics)
solve_rate = pd.DataFrame({r: metrics.per_problem_accuracy(artifacts.read(v, artifacts.VERDICTS))
                           for r, v in zip(snakemake.params.rounds, snakemake.input.verdicts)})

with artifacts.atomic(out.table) as tmp:
    table.to_parquet(tmp, index=False)

# cost per round and stage, from the benchmark files and the samples and examples of each round
rounds, p = snakemake.params.rounds, snakemake.params
counts = ["sample_id", "prompt_tokens", "completion_tokens"]  # not the texts: a paper run's are gigabytes
think = {r: artifacts.read(path, artifacts.SAMPLES, counts) for r, path in zip(rounds[1:], snakemake.input.think)}
generated = {**{(r, "generate_think"): s for r, s in think.items()},
             **{(r, "generate_eval"): artifacts.read(path, artifacts.SAMPLES, counts)
                for r, path in zip(rounds, snakemake.input.eval)},
             **{(r, "probe"): artifacts.read(path, artifacts.SAMPLES, counts)  # think.auto_temperature
                for r, path in zip(rounds[1:], snakemake.input.probes)}}
# a round's examples come from its own think samples and, with prune.accumulate, from earlier rounds' too
trained = {r: (artifacts.read(path, artifacts.SFT), pd.concat([think[q] for q in rounds[1:] if q <= r]), p.epochs,
               cost.load_tokenizer(model))
           for r, path, model in zip(rounds[1:], snakemake.input.sft, snakemake.input.models)}
costs = cost.cost_table(cost.read_benchmarks(p.benchmarks), p.resources, generated, trained)
artifacts.write(costs, out.cost, artifacts.COST)
with artifacts.atomic(out.cost_table) as tmp, open(tmp, "w") as f:
    f.write(cost.html(costs, out.cost))
with artifacts.atomic(out.cost_plot) as tmp:
    report.plot_cost(costs, tmp)

# code tasks with task.validate: how many problems the known solutions flagged or dropped, per split
checks = {split: artifacts.read(path, artifacts.PROBLEM_CHECKS)
          for split, path in zip(snakemake.params.splits, snakemake.input.checks)}
with artifacts.atomic(out.markdown) as tmp, open(tmp, "w") as f:
    probes = [artifacts.read(path, artifacts.PROBE) for path in snakemake.input.temperatures]
    f.write(report.summary_md(table, spread, costs, out.cost, checks, probes))
with artifacts.atomic(out.diversity) as tmp:
    spread.to_parquet(tmp, index=False)
with artifacts.atomic(out.pass1) as tmp:
    report.plot_pass1(table, tmp)
with artifacts.atomic(out.passk) as tmp:
    report.plot_passk(all_metrics, tmp)
with artifacts.atomic(out.solve_rate) as tmp:
    report.plot_solve_rate(solve_rate, tmp)
curves = {r: artifacts.read(c, artifacts.TRAINING_CURVE) for r, c in zip(snakemake.params.rounds[1:],
                                                                          snakemake.input.curves)}
with artifacts.atomic(out.training) as tmp:
    report.plot_training_curves(curves, tmp)

# each round's model card with its metrics (the card in the model folder was written before its evaluation)
for r, model, path in zip(rounds[1:], snakemake.input.models, out.cards):
    with open(f"{model}/README.md") as f:
        text = card.with_metrics(f.read(), table[table["round"] == r].iloc[0], report.scorings(table))
    with artifacts.atomic(path) as tmp, open(tmp, "w") as f:
        f.write(text)
log.info("report:\n%s\n%s", report.markdown(table), cost.line(costs, out.cost))
