# A rehearsal's checks of the finished run and its summary (tpt.rehearsal): printed, and written to rehearsal.md.
import pandas as pd

from tpt import artifacts, rehearsal, runlog, tasks

log = runlog.start_rule(snakemake)
i, p = snakemake.input, snakemake.params
try:
    made_by = {"report": i.report, "problems": i.problems, "finetune": i.models, "think": i.think, "eval": i.eval,
               "verify": i.verdicts, "prune": i.sft}  # the stage that writes each input, for the error
    checks = [rehearsal.check_artifacts([(stage, f) for stage, files in made_by.items() for f in files])]
    base = i.models[0]
    task = tasks.from_config(p.task)
    problems = pd.read_parquet(i.problems[0])
    worked = rehearsal.worked_solutions(problems, tasks.is_code(task))
    checks += rehearsal.check_model(base, [task.prompt(q) for q in problems["question"][:4]],
                                    [s for s in worked[:8] if s])
    # the warmed-up base model (round 0) and each fine-tuned one against the miniature as built from the family
    for r in range(0, p.rounds + 1):
        checks.append(rehearsal.check_saved(p.init, i.models[r], "base_model" if r == 0 else f"finetune (round {r})"))
        if r > 0:  # the base model's samples may run to the limit: the fine-tune's end token is what is checked
            checks.append(rehearsal.check_stops(pd.read_parquet(i.eval[r]), f"eval (round {r}, fine-tuned model)"))
    for r, path in enumerate(i.think, start=1):
        n = pd.read_parquet(path)
        checks.append(f"think (round {r}): {int((n['finish_reason'] == 'stop').sum())} of {len(n)} samples stop "
                      "before the limit")
    sft = [len(pd.read_parquet(f)) for f in i.sft[0::2]]
    checks.append(f"prune: {', '.join(map(str, sft))} training example(s) survive in round(s) 1-{p.rounds}")
except rehearsal.RehearsalError as e:
    runlog.fail(log, str(e))
what_ran = [f"model: a miniature of {p.name}, made from {p.family_source}"] + rehearsal.ran(snakemake.config)
text = rehearsal.summary(p.name, checks, rehearsal.timings(p.benchmarks), what_ran)
with artifacts.atomic(snakemake.output[0]) as tmp:
    open(tmp, "w").write(text)
print(text, flush=True)
log.info("rehearsal passed:\n%s", text)
