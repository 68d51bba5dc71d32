# shellcheck shell=bash
# The health gate before a switch (the logic is in gate-lib.sh): every host of the pool that
# is about to be live must be ready, checked in parallel, within the budget.
run_gate
