#!/usr/bin/env bash
# Mutation testing of the modules that decide what ships (issue 17), one module at a time.
#
#   scripts/mutation.sh [MODULE...]      default: every module (scripts/mutation.py list)
#
# Each module runs in its own workspace mutants/<module>/ with only the tests that cover it
# (mutmut 3 then runs, per mutant, only the tests that executed the mutated function), one
# worker at a time, within MUTATION_BUDGET_S seconds per module (default 900). A module that
# hits the budget is reported with what was checked. Scores: killed / (total - equivalent);
# equivalent mutants are listed, with the reason, in bench/mutation_equivalent.txt.
#
# Survivors of mutmut's forked run are run once more in a fresh interpreter (MUTATION_RECHECK_S,
# default 600 s per module): mutmut's forked workers cannot activate a mutant in code that ran at
# import time, such as the factories that build the budget registry.
#
# Environment: MUTATION_BUDGET_S (seconds per module), MUTATION_CHILDREN (default 1),
# PYTHON (default .venv/bin/python). Needs the dev extra (mutmut).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-$root/.venv/bin/python}"
mutmut="$(dirname "$py")/mutmut"
budget="${MUTATION_BUDGET_S:-900}"
children="${MUTATION_CHILDREN:-1}"

if [[ ! -x "$mutmut" ]]; then
    echo "mutation.sh: $mutmut not found; install the dev extra: pip install -e '.[dev]'" >&2
    exit 2
fi

if [[ $# -eq 0 ]]; then
    read -r -a modules <<<"$("$py" scripts/mutation.py list)"
else
    modules=("$@")
fi

status=0
for m in "${modules[@]}"; do
    ws="$("$py" scripts/mutation.py prepare "$m")" || exit 2
    echo "== $m: mutmut run in $ws (budget ${budget} s, ${children} worker(s))"
    start=$(date +%s)
    finished=1
    # setsid: on the budget, the whole process group (mutmut and its forked workers) is stopped
    (cd "$ws" && timeout --kill-after=30 "$budget" setsid "$mutmut" run --max-children "$children") \
        >"$ws/run.log" 2>&1 || {
        rc=$?
        if [[ $rc -eq 124 || $rc -eq 137 ]]; then
            finished=0
        else
            echo "mutation.sh: mutmut failed for $m (exit $rc); last lines of $ws/run.log:" >&2
            tail -n 20 "$ws/run.log" >&2
            status=1
            continue
        fi
    }
    # survivors again, each in a fresh interpreter (mutants in code run at import; see mutation.py)
    "$py" scripts/mutation.py recheck "$m" "${MUTATION_RECHECK_S:-600}"
    "$py" scripts/mutation.py score "$m" "$(( $(date +%s) - start ))" "$finished"
done
exit $status
