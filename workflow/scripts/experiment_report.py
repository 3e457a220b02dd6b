import os

import pandas as pd

from tpt import artifacts, card, compare, paths, runlog

log = runlog.start_rule(snakemake)
p, out = snakemake.params, snakemake.output
results = {name: v["results"] for name, v in p.variants.items()}
owners = {(variant, path): owner for variant, path, owner in p.owners}


def metrics(files):
    return pd.concat([artifacts.read(f, artifacts.METRICS) for f in files]) if files else None


eval_m = {name: metrics([f for f in snakemake.input.eval if f.startswith(results[name] + "/")]) for name in results}
think_m = {name: metrics([f for f in snakemake.input.think if f.startswith(results[name] + "/")]) for name in results}


def verdicts(name, round_):
    return artifacts.read(paths.verdicts(results[name], round_, "eval"), artifacts.VERDICTS)


# each variant's last round against its partner's same round (the reference, or for a variant evaluated on other
# problems the first variant evaluated on those; a variant with more rounds is compared at the partner's last round)
last = {}
for name, v in p.variants.items():
    partner = p.partners[name]
    round_ = min(v["rounds"], p.variants[partner]["rounds"])
    last[name] = (round_, verdicts(name, round_), partner, verdicts(partner, round_))
tab = compare.table(eval_m, think_m, results, owners)
if p.replicates:  # the mean over seeds with its spread, the differences paired by seed and problem, the verdicts
    shown = compare.over_seeds(tab)
    text = compare.markdown_over_seeds(shown, compare.paired_over_seeds(last, p.claim_stderrs), p.reference,
                                       p.claim_stderrs)
else:
    shown, text = tab, compare.markdown(tab, compare.paired_difference(last), p.reference)
with artifacts.atomic(out.table) as tmp:  # every run's rows (a replicate's variant: <variant>/seed_<s>)
    tab.to_parquet(tmp, index=False)
with artifacts.atomic(out.markdown) as tmp, open(tmp, "w") as f:
    f.write(f"# Experiment {p.experiment}\n\n" + text)
with artifacts.atomic(out.pass1) as tmp:
    compare.plot(shown, "pass@1", "Pass@1 strict", tmp)
with artifacts.atomic(out.passk) as tmp:
    compare.plot(shown, "pass@n", "Pass@n strict", tmp)
# the cards of the models several variants use: every variant that uses one, and what it sets otherwise
os.makedirs(out.cards, exist_ok=True)
for (owner, round_, users), model in zip(p.shared_models, snakemake.input.models):
    with open(os.path.join(model, "README.md")) as f:
        card_text = card.shared_card(f.read(), owner, round_, users)
    name = owner.replace("/", "_")  # a replicate's: <variant>_seed_<s>
    with artifacts.atomic(os.path.join(out.cards, f"{name}_round_{round_}.md")) as tmp, open(tmp, "w") as f:
        f.write(card_text)
log.info("experiment %s:\n%s", p.experiment, text)
