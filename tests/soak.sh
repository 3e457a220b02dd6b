#!/usr/bin/env bash
# Run tests N times in a row with every core kept busy by spinners (python3 -c "while True: pass"), and print how
# many runs failed. A test that fails only on a busy machine is a defect of the code or of the test.
#   tests/soak.sh 10 tests/test_distributed.py          # the multi-process fine-tunes, 10 times
#   tests/soak.sh 1                                     # the whole suite once, loaded
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
shift || true
spinners=()
for _ in $(seq "$(nproc)"); do
    python3 -c "while True: pass" &
    spinners+=($!)
done
trap 'kill "${spinners[@]}" 2>/dev/null' EXIT
failed=0
for i in $(seq "$runs"); do
    if .venv/bin/pytest -q -p no:cacheprovider "$@" >"soak-$i.log" 2>&1; then
        echo "run $i/$runs: passed ($(tail -1 "soak-$i.log"))"
        rm "soak-$i.log"
    else
        failed=$((failed + 1))
        echo "run $i/$runs: FAILED, see soak-$i.log ($(tail -1 "soak-$i.log"))"
    fi
done
echo "$failed of $runs runs failed with $(nproc) spinners beside them"
[ "$failed" -eq 0 ]
