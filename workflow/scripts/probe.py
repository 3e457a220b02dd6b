import pandas as pd

from tpt import artifacts, probe, runlog, sampling, tasks, verify


def main(snakemake):
    log = runlog.start_rule(snakemake)
    p, round_ = snakemake.params, int(snakemake.wildcards.round)
    think, auto = p.think, p.think["auto_temperature"]
    task = tasks.from_config(p.task)
    problems = artifacts.read(snakemake.input.problems, artifacts.PROBLEMS)
    problems = sampling.select_problems(problems, round_, think["problems_per_round"], think["fresh_problems"], p.seed)
    probed = probe.problems(problems, auto["probe_problems"])
    grid = auto["grid"]
    requests = probe.requests(probed, task.prompt, round_, think["n"], grid, p.seed)
    log.info("round %d probe: %d problems x %d samples at each of %s, from %s", round_, len(probed), think["n"],
             grid, p.model)
    sampler = sampling.load_sampler(p.model, p.sampling, threads=snakemake.threads)
    samples = [sampling.generate(sampler, requests[requests["temperature"] == t], p.model, t, think["top_p"],
                                 think["max_new_tokens"]) for t in grid]
    samples = pd.concat(samples, ignore_index=True)
    options = {**p.verify, "workers": snakemake.threads}
    verdicts = verify.verify(samples, problems, task, options)
    table = probe.choose(probe.balance(samples, verdicts, auto["n_star"], tasks.is_code(task)), round_)
    artifacts.write(samples, snakemake.output.samples, artifacts.SAMPLES)
    artifacts.write(table, snakemake.output.table, artifacts.PROBE)
    for row in table.itertuples():
        log.info("temperature %g: %.1f%% correct, %.2f distinct correct per problem, score %.3f%s", row.temperature,
                 100 * row.correct, row.distinct_correct, row.score, "  <- chosen" if row.chosen else "")


if __name__ == "__main__":
    main(snakemake)  # noqa: F821  (Snakemake's script object)
