#!/bin/sh
# Fuzzes each parser for SECONDS with libFuzzer (clang, ASan + UBSan +
# LeakSanitizer), starting from the committed corpus (tests/fuzz/corpus),
# the inputs that once failed (tests/fuzz/regressions) and the fixture
# checkpoints. Fails on a crash, a sanitizer report, a leak, an input that
# takes more than 10 s (a hang) or more than 2 GiB; the input is kept under
# FUZZ_BUILD/artifacts. New interesting inputs accumulate in
# FUZZ_BUILD/corpus, so later runs go on where earlier ones stopped.
# Usage: run_fuzz.sh FUZZ_BUILD SECONDS [TARGET...]
set -u
fb=$1
secs=$2
shift 2
targets=${*:-safetensors shard_index config}
failed=0
mkdir -p "$fb/artifacts"
for t in $targets; do
    bin="$fb/fuzz_$t"
    [ -x "$bin" ] || { echo "FAIL fuzz $t: $bin was not built" >&2; failed=1; continue; }
    work="$fb/corpus/$t" fixtures="$fb/fixture-seeds/$t"
    mkdir -p "$work" "$fixtures"
    # libFuzzer takes directories; the fixtures' files are copied into one
    case $t in
    safetensors) max_len=65536; cp tests/fixtures/*/golden.safetensors "$fixtures/" 2>/dev/null ;;
    shard_index) max_len=16384 ;;
    config) max_len=8192
        for d in tests/fixtures/*/; do cp "$d/config.json" "$fixtures/$(basename "$d").json"; done ;;
    *) echo "FAIL fuzz: unknown target $t" >&2; failed=1; continue ;;
    esac
    log="$fb/$t.log"
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=$max_len \
        -dict="tests/fuzz/$t.dict" -artifact_prefix="$fb/artifacts/$t-" -print_final_stats=1 \
        "$work" "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t" "$fixtures" >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    if [ $rc != 0 ]; then
        echo "FAIL fuzz $t (exit $rc); the end of $log:" >&2
        tail -n 40 "$log" >&2
        echo "the failing input is in $fb/artifacts/ ($t-*): once the bug is fixed," \
            "copy it to tests/fuzz/regressions/$t/ so that make test replays it" >&2
        failed=1
    else
        echo "fuzz $t: ${runs:-?} inputs in ${secs} s, no crash, leak, hang or sanitizer report"
    fi
done
exit $failed
