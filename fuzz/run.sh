#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 600), one after the other. Not part of CI.
#
#   fuzz/run.sh [SECONDS]
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Each target's corpus grows
# in fuzz/corpus/<target> (git-ignored), starting from the checked-in fuzz/seeds/<target> when
# there is one; a crash or a broken invariant stops that target, leaves the input in
# fuzz/artifacts/<target>/ and makes the script exit non-zero after the remaining targets ran.
# On a shared machine, set FUZZ_LOCK to a file to run each target under `flock` on it.
set -euo pipefail

seconds="${1:-600}"
cd "$(dirname "$0")/.."
targets=(ws_frame validators send_body event_decode fold)
# The JSON targets share a dictionary of the contract's field names and values.
declare -A dict=([ws_frame]=1 [send_body]=1 [event_decode]=1)

cargo +nightly fuzz build
failed=()
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target"
    corpora=("fuzz/corpus/$target")
    [[ -d "fuzz/seeds/$target" ]] && corpora+=("fuzz/seeds/$target")
    args=(-max_total_time="$seconds" -print_final_stats=1)
    [[ -n "${dict[$target]:-}" ]] && args+=(-dict=fuzz/json.dict)
    lock=()
    [[ -n "${FUZZ_LOCK:-}" ]] && lock=(flock "$FUZZ_LOCK")
    echo "== $target: ${seconds}s"
    if ! "${lock[@]}" cargo +nightly fuzz run "$target" "${corpora[@]}" -- "${args[@]}"; then
        failed+=("$target")
    fi
done
if ((${#failed[@]})); then
    echo "findings in: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "no findings in ${#targets[@]} targets after ${seconds}s each"
