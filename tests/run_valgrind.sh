#!/bin/sh
# valgrind memcheck on the cpu_ref golden checks: `zbench verify` on every
# fixture checkpoint (load, bind, prefill, decode, compare), and batched with
# an early split on one Zamba and one transformer fixture (the batched paths
# are the same code for the other two). Zero errors and zero definite leaks,
# or it fails. The fixtures are tiny: about half a minute in all.
# Usage: run_valgrind.sh BUILD_DIR (a build without ASan)
set -u
build=${1:-build}
export ZBENCH_PLUGIN_PATH="$build/plugins"
if ! command -v valgrind >/dev/null 2>&1; then
    echo "FAIL valgrind: valgrind is not installed (bench/ensure-deps.sh test installs it)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
n=0
for f in tests/fixtures/*/; do
    batched=
    case $f in */zamba-tiny-f32/ | */mistral-tiny-swa-bf16/) batched="--batch 3 --split 5" ;; esac
    for args in "" ${batched:+"$batched"}; do
        n=$((n + 1))
        # shellcheck disable=SC2086
        if ! valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
            --show-leak-kinds=definite "$build/zbench" verify --plugin cpu_ref --model "$f" \
            $args >"$tmp/out" 2>"$tmp/err"; then
            echo "FAIL valgrind: zbench verify --plugin cpu_ref --model $f $args:" >&2
            cat "$tmp/out" "$tmp/err" >&2
            failed=1
        fi
    done
done
[ $failed = 0 ] && echo "valgrind: $n cpu_ref golden checks, no memcheck error, no definite leak"
exit $failed
