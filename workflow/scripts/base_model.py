from tpt import runlog, tasks, tiny, train

log = runlog.start_rule(snakemake)
task, builtin = snakemake.params.task, snakemake.params.builtin
arith = tasks.get("arith")
warmup = arith.load("warmup", task["arith"])
tokenizer = tiny.build_tokenizer(warmup["question"] + "\n" + warmup["solution"])
model = tiny.build_model(tokenizer, builtin["hidden_size"], builtin["intermediate_size"], builtin["num_layers"],
                         builtin["num_heads"], builtin["max_length"])
log.info("tiny model: %d parameters, vocabulary %d", model.num_parameters(), len(tokenizer))
init = snakemake.params.scratch + "/init"
train.save_model(model, tokenizer, init)
rows = [{"sample_id": pid, "prompt": arith.prompt(q), "completion": s}
        for pid, q, s in zip(warmup["problem_id"], warmup["question"], warmup["solution"])]
cfg = {**snakemake.params.finetune, **builtin["warmup"], "method": "full", "max_length": builtin["max_length"]}
figures = train.finetune(init, snakemake.output[0], rows, [], cfg, snakemake.params.scratch + "/checkpoints",
                         threads=snakemake.threads)
log.info("warm-up on %d sloppy-teacher solutions: %s", len(rows), figures)
