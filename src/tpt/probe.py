"""think.auto_temperature: choose each round's think temperature by B-STaR's balance score (Zeng et al., "B-STaR:
Monitoring and Balancing Exploration and Exploitation in Self-Taught Reasoners", arXiv 2412.17256).

Before a round thinks, its model (the previous round's) samples think.n solutions to a probe of the round's own
problems (the first probe_problems of them) at each temperature of the grid; the verifier scores them. A
temperature's balance score is the mean over the probe's problems of

    min(distinct correct solutions / n_star, 1)

B-STaR's score with a binary verifier (every correct solution is kept, so its exploitation factor, kept correct
over kept, is 1): it rewards a temperature that finds many different correct solutions (exploration) and counts
zero for a problem it never solves (exploitation). Solutions are "distinct" by their equations (math) or their
normalised program (code) (tpt.diversity.signatures), so that rewording one solution does not count twice. The
highest score wins; on a tie, the temperature listed first in the grid. B-STaR reports that the chosen temperature
rose over rounds (0.5 -> 1.1) as the model grew surer, where a fixed hot temperature lost.
"""
import pandas as pd

from tpt.diversity import signatures


def problems(round_problems, probe_problems):
    """The probe: the first probe_problems of the round's think problems (already a seeded draw)."""
    return round_problems.head(probe_problems).reset_index(drop=True)


def requests(probe, prompt_fn, round_, n, grid, seed):
    """n samples per problem at each temperature of the grid: sample index k x n + i is the i-th at grid[k]
    (phase "probe", so the seeds are not think's). A `temperature` column says which."""
    from tpt import sampling

    out = sampling.make_requests(probe, prompt_fn, "probe", round_, n * len(grid), seed)
    return out.assign(temperature=[grid[i // n] for i in out["sample_index"]])


def balance(samples, verdicts, n_star, code):
    """PROBE's rows but round and chosen: per temperature of `samples` (its `temperature` column), its samples,
    the share correct, the mean distinct correct solutions per problem and the balance score."""
    df = samples.merge(verdicts[["sample_id", "correct"]], on="sample_id", validate="one_to_one")
    rows = []
    for temperature, group in df.groupby("temperature", sort=False):
        right = group[group["correct"]]
        distinct = right.assign(signature=signatures(right["completion"], code)).groupby("problem_id")[
            "signature"].nunique()
        distinct = distinct.reindex(group["problem_id"].unique(), fill_value=0)  # never solved: 0
        rows.append({"temperature": float(temperature), "problems": len(distinct), "samples": len(group),
                     "correct": float(group["correct"].mean()), "distinct_correct": float(distinct.mean()),
                     "score": float((distinct / n_star).clip(upper=1).mean())})
    return pd.DataFrame(rows)


def choose(table, round_):
    """PROBE: the table with its round and the chosen temperature marked (the best score, the first on a tie)."""
    best = table["score"].to_numpy().argmax()  # argmax returns the first of equal maxima
    return table.assign(round=round_, chosen=[i == best for i in range(len(table))])


def chosen(probe):
    """The temperature a PROBE chose."""
    rows = probe[probe["chosen"]]
    if len(rows) != 1:
        raise ValueError(f"a probe must choose exactly one temperature, this one chose {len(rows)}")
    return float(rows["temperature"].iloc[0])


def markdown(tables):
    """The summary's table of the probes (PROBE frames, one per round): each temperature's balance score per round,
    the chosen one in bold."""
    grid = list(dict.fromkeys(t for table in tables for t in table["temperature"]))
    lines = ["| round | " + " | ".join(f"T={t:g}" for t in grid) + " | chosen |",
             "|---|" + "---|" * (len(grid) + 1)]
    for table in tables:
        score = {row.temperature: (f"**{row.score:.3f}**" if row.chosen else f"{row.score:.3f}")
                 for row in table.itertuples()}
        lines.append(f"| {int(table['round'].iloc[0])} | " + " | ".join(score.get(t, "") for t in grid)
                     + f" | {chosen(table):g} |")
    return "\n".join(lines) + "\n"
