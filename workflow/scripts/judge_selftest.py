from tpt import artifacts, runlog
from tpt.code.sandbox import Sandbox
from tpt.code.selftest import report, run_selftest

log = runlog.start_rule(snakemake)
code = snakemake.params.code
with Sandbox(backend=code["backend"], allow_unsafe=code["allow_unsafe"]) as sandbox:
    ok, rows = run_selftest(sandbox=sandbox, time_factor=code["time_factor"], verbose=False)
text = f"sandbox: {sandbox.name}\n" + report(rows)
log.info("judge self-test:\n%s", text)
if not ok:
    runlog.fail(log, "the judge failed its self-test (see above): its verdicts cannot be trusted on this machine")
with artifacts.atomic(snakemake.output[0]) as tmp, open(tmp, "w") as f:
    f.write(text)
