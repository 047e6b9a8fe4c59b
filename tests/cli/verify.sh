#!/bin/sh
# End-to-end: `zbench verify` with the cpu_ref plugin on every fixture
# checkpoint (pass, batched with an early split, and a forced failure), and
# its one-line refusals of bad input. Usage: verify.sh BUILD_DIR
set -u
build=${1:-build}
zb="$build/zbench"
fixtures=${ZB_FIXTURES:-tests/fixtures}
ZBENCH_PLUGIN_PATH=${ZBENCH_PLUGIN_PATH:-$build/plugins}
export ZBENCH_PLUGIN_PATH
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zbcli-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0

fail() {
    echo "FAIL [cli/verify.sh] $*" >&2
    failures=$((failures + 1))
}

# Lines in a file, counting a last line without its newline.
lines() { awk 'END { print NR }' "$1"; }

# run RC ARGS...: runs zbench with stdout/stderr in $tmp/out and $tmp/err;
# returns 1 (after reporting) unless the exit status is RC.
run() {
    want=$1
    shift
    checks=$((checks + 1))
    "$zb" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" != "$want" ]; then
        fail "zbench $*: exit $rc, expected $want; stdout: $(head -c 600 "$tmp/out");" \
            "stderr: $(head -c 1500 "$tmp/err")"
        return 1
    fi
    return 0
}

# expect_pass NAME ARGS...: exit 0, one stdout line with the PASS prefix,
# nothing on stderr.
expect_pass() {
    name=$1
    shift
    run 0 verify "$@" || return 1
    line=$(cat "$tmp/out")
    case "$line" in
    "verify PASS plugin=cpu_ref model=$name positions="[0-9]*" max_rel_err="*) ;;
    *) fail "zbench verify $*: unexpected output '$line'" ;;
    esac
    [ "$(lines "$tmp/out")" = 1 ] || fail "zbench verify $*: $(lines "$tmp/out") stdout lines"
    [ -s "$tmp/err" ] && fail "zbench verify $*: stderr not empty: $(head -c 600 "$tmp/err")"
    return 0
}

# expect_bad FRAGMENT ARGS...: exit 2, nothing on stdout, exactly one line
# on stderr, starting with "zbench verify: " and containing FRAGMENT.
expect_bad() {
    frag=$1
    shift
    run 2 verify "$@" || return 1
    [ -s "$tmp/out" ] && fail "zbench verify $*: stdout not empty: $(head -c 600 "$tmp/out")"
    [ "$(lines "$tmp/err")" = 1 ] ||
        fail "zbench verify $*: $(lines "$tmp/err") stderr lines: $(head -c 1500 "$tmp/err")"
    msg=$(cat "$tmp/err")
    case "$msg" in
    "zbench verify: "*"$frag"*) ;;
    *) fail "zbench verify $*: message '$msg' lacks '$frag'" ;;
    esac
    return 0
}

[ -x "$zb" ] || { echo "FAIL [cli/verify.sh] $zb is not built" >&2; exit 1; }

# ------------------------------------------------ every fixture checkpoint
n_fixtures=0
for dir in "$fixtures"/*/; do
    dir=${dir%/}
    [ -f "$dir/config.json" ] || continue
    name=${dir##*/}
    n_fixtures=$((n_fixtures + 1))
    expect_pass "$name" --plugin cpu_ref --model "$dir"
    expect_pass "$name" --plugin cpu_ref --model "$dir" --batch 3 --split 5
    if run 1 verify --plugin cpu_ref --model "$dir" --tol 1e-12; then
        line=$(cat "$tmp/out")
        case "$line" in
        "verify FAIL plugin=cpu_ref model=$name positions="*" tol=1.0e-12 worst_position="[0-9]*" phase="*) ;;
        *) fail "--tol 1e-12 on $name: unexpected output '$line'" ;;
        esac
        [ "$(lines "$tmp/out")" = 1 ] || fail "--tol 1e-12 on $name: $(lines "$tmp/out") stdout lines"
    fi
done
[ "$n_fixtures" -ge 4 ] || fail "found $n_fixtures fixture checkpoints under $fixtures, expected 4"

# ---------------------------------------------------------------- bad input
model="$fixtures/llama-tiny-bf16"
# the golden length T: with --split 1, verify compares 1 + (T - 1) + 1 positions
T=0
if run 0 verify --model "$model" --split 1; then
    T=$(sed -n 's/.* positions=\([0-9]*\) .*/\1/p' "$tmp/out")
    T=$((T - 1))
fi
[ "$T" -ge 2 ] || fail "could not learn the golden length of $model"

expect_bad "--model" --plugin cpu_ref
expect_bad "$tmp/no-such-model" --model "$tmp/no-such-model"
expect_bad "--split" --model "$model" --split 0
expect_bad "--split" --model "$model" --split -3
expect_bad "below the golden length $T" --model "$model" --split "$T"
expect_bad "below the golden length $T" --model "$model" --split $((T + 7))
expect_bad "--tol" --model "$model" --tol 0
expect_bad "--batch" --model "$model" --batch 0
expect_bad "--frobnicate" --model "$model" --frobnicate

# unknown plugin: refused, naming the plugins there are
expect_bad "available: " --plugin no_such_backend --model "$model"
grep -q "cpu_ref" "$tmp/err" || fail "unknown plugin message does not list cpu_ref: $(cat "$tmp/err")"

# a checkpoint copy whose golden file is corrupt
copy="$tmp/copy"
mkdir "$copy"
cp "$model/config.json" "$model/model.safetensors" "$copy/"
head -c 100 "$model/golden.safetensors" >"$copy/golden.safetensors"
expect_bad "$copy/golden.safetensors" --model "$copy"
# ... a header length field far past any limit
cp "$model/golden.safetensors" "$copy/golden.safetensors"
printf '\377\377\377\377\377\377\377\177' | dd of="$copy/golden.safetensors" bs=1 count=8 conv=notrunc 2>/dev/null
expect_bad "limit" --model "$copy"
# ... and none at all
rm "$copy/golden.safetensors"
expect_bad "golden.safetensors" --model "$copy"
# the intact copy passes, under its own directory name
cp "$model/golden.safetensors" "$copy/golden.safetensors"
expect_pass "copy" --model "$copy"

if [ "$failures" -ne 0 ]; then
    echo "cli/verify.sh: $failures of $checks checks failed" >&2
    exit 1
fi
echo "cli/verify.sh: $checks checks passed"
