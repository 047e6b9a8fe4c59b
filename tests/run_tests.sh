#!/bin/sh
# Runs every unit test binary, the fuzz targets' replays, then the
# end-to-end CLI tests. The tests find
# the built tree through ZB_BUILD, the fixtures through ZB_FIXTURES.
set -u
build=${1:-build}
export ZB_BUILD="$build" ZB_FIXTURES="tests/fixtures" ZBENCH_PLUGIN_PATH="$build/plugins"
failed=0
for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    if ! "$t"; then
        echo "FAILED: $t" >&2
        failed=1
    fi
done
# every fuzz target on its corpus, the inputs that once failed, and the
# fixtures (no fuzzing here: make fuzz / make test-fuzz do that with clang)
for t in "$build"/tests/fuzz/replay_*; do
    [ -x "$t" ] || continue
    name=${t##*/replay_}
    case $name in
    safetensors) extra=$(ls tests/fixtures/*/*.safetensors) ;;
    config) extra=$(ls tests/fixtures/*/config.json) ;;
    *) extra= ;;
    esac
    # shellcheck disable=SC2086
    if ! "$t" "tests/fuzz/corpus/$name" "tests/fuzz/regressions/$name" $extra; then
        echo "FAILED: $t" >&2
        failed=1
    fi
done
for t in tests/cli/*.sh; do
    [ -f "$t" ] || continue
    if ! sh "$t" "$build"; then
        echo "FAILED: $t" >&2
        failed=1
    fi
done
[ $failed = 0 ] && echo "all tests passed ($build)"
exit $failed
