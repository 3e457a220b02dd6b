# The base model: the built-in task's tiny Llama (tpt.tiny), or a rehearsal's miniature of the config's model
# family (tpt.tiny.build_miniature, checked by tpt.rehearsal.check_model), each warmed up on worked solutions.
from tpt import runlog, tasks, tiny, train

log = runlog.start_rule(snakemake)
p = snakemake.params
init = p.scratch + "/init"
if p.rehearsal:
    import pandas as pd

    from tpt import rehearsal

    task = tasks.from_config(p.task)
    problems = pd.read_parquet(snakemake.input.problems[0])
    prompts = [task.prompt(q) for q in problems["question"]]
    code = tasks.is_code(task)
    worked = rehearsal.worked_solutions(problems, code)
    solutions = [s for s in worked if s]
    if not solutions:
        runlog.fail(log, f"rehearsal failed at stage base_model: task {p.task['name']!r} gives no worked "
                    "solutions to warm the miniature up on")
    answers = [] if code else [a for a in problems["answer"] if isinstance(a, str)]  # code: tests, not text
    texts = list(problems["question"]) + solutions + prompts
    tokenizer, model = tiny.build_miniature(p.family, texts, init)  # the family files tpt.rehearsal.apply found
    log.info("miniature of %s: %s, %d parameters, vocabulary %d", p.base, type(model).__name__,
             model.num_parameters(), len(tokenizer))
    try:
        for line in rehearsal.check_model(init, prompts, solutions + answers):
            log.info("checked: %s", line)
    except rehearsal.RehearsalError as e:
        runlog.fail(log, str(e))
    rows = [{"sample_id": pid, "prompt": pr, "completion": s}
            for pid, pr, s in zip(problems["problem_id"], prompts, worked) if s]
    # a code task's look-up programs (worked_solutions) take the miniature twice the epochs to learn by heart
    epochs = p.rehearsal["warmup_epochs"] * (rehearsal.CODE_WARMUP_FACTOR if code else 1)
    cfg = {**p.finetune, **rehearsal.WARMUP, "epochs": epochs, "method": "full", "grad_accum": 1}
    figures = train.finetune(init, snakemake.output[0], rows, [], cfg, p.scratch + "/checkpoints",
                             threads=snakemake.threads)
    log.info("warm-up on %d worked solutions of the rehearsal's train problems: %s", len(rows), figures)
else:
    warmup = tasks.get("arith").load("warmup", p.task["arith"])
    tokenizer, model = tiny.build(warmup, p.builtin)
    log.info("tiny model: %d parameters, vocabulary %d", model.num_parameters(), len(tokenizer))
    train.save_model(model, tokenizer, init)
    figures, n = tiny.warm_up(init, snakemake.output[0], warmup, p.builtin, p.finetune, p.scratch + "/checkpoints",
                              threads=snakemake.threads)
    log.info("warm-up on %d sloppy-teacher solutions: %s", n, figures)
