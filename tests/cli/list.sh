#!/bin/sh
# End-to-end: `zbench list` (plugins and presets), and the top-level
# command line's exit codes. Usage: list.sh BUILD_DIR
set -u
build=${1:-build}
zb="$build/zbench"
ZBENCH_PLUGIN_PATH=${ZBENCH_PLUGIN_PATH:-$build/plugins}
export ZBENCH_PLUGIN_PATH
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zbcli-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0

fail() {
    echo "FAIL [cli/list.sh] $*" >&2
    failures=$((failures + 1))
}

lines() { awk 'END { print NR }' "$1"; }

run() {
    want=$1
    shift
    checks=$((checks + 1))
    "$zb" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" != "$want" ]; then
        fail "zbench $*: exit $rc, expected $want; stderr: $(head -c 1500 "$tmp/err")"
        return 1
    fi
    return 0
}

# has PATTERN WHAT: stdout has a line matching the extended regex.
has() {
    grep -Eq "$1" "$tmp/out" || fail "$2: no line matching '$1' in: $(head -c 2000 "$tmp/out")"
}

[ -x "$zb" ] || { echo "FAIL [cli/list.sh] $zb is not built" >&2; exit 1; }

# ------------------------------------------------------------- zbench list
if run 0 list; then
    has '^  cpu_ref +1 +cpu +' "zbench list (cpu_ref, ABI 1, on the CPU)"
    for p in zamba-7b llama2-7b mistral-7b zamba-tiny zamba-76l-tiny llama2-tiny mistral-tiny; do
        has "^  $p +[0-9.e+-]+B params" "zbench list (preset $p)"
    done
    # the 7B presets carry their published sizes
    has '^  zamba-7b +7\.23B params' "zbench list (zamba-7b size)"
    has '^  llama2-7b +6\.74B params' "zbench list (llama2-7b size)"
    has '^  mistral-7b +7\.24B params' "zbench list (mistral-7b size)"
    [ -s "$tmp/err" ] && fail "zbench list: stderr not empty: $(head -c 600 "$tmp/err")"
fi

# broken plugins on the path are listed as unusable, each with its reason,
# and do not stop the listing
bad="$build/tests/plugins"
if [ -f "$bad/libzb_bad_abi.so" ]; then
    if ZBENCH_PLUGIN_PATH="$bad:$build/plugins" run 0 list; then
        has '^  bad_abi .*unusable: .*libzb_bad_abi\.so: plugin ABI version' "list with broken plugins (bad_abi)"
        has '^  null_fn .*unusable: .*NULL .decode.' "list with broken plugins (null_fn)"
        has '^  no_entry .*unusable: .*no entry symbol' "list with broken plugins (no_entry)"
        has '^  null_table .*unusable: .*returned no table' "list with broken plugins (null_table)"
        has '^  cpu_ref +1 +cpu +' "list with broken plugins (cpu_ref still there)"
    fi
else
    fail "$bad/libzb_bad_abi.so is not built (make builds tests/plugins with the tests)"
fi

# an empty plugin path: no plugins, still a listing
mkdir "$tmp/empty"
if ZBENCH_PLUGIN_PATH="$tmp/empty" run 0 list; then
    has 'none found' "zbench list with no plugins"
    has '^  zamba-tiny ' "zbench list with no plugins (presets)"
fi

# ------------------------------------------------------ command-line codes
# (no arguments at all starts a benchmark run, so it is not exercised here)
if run 2 list extra; then
    [ "$(lines "$tmp/err")" = 1 ] || fail "zbench list extra: $(lines "$tmp/err") stderr lines"
fi
if run 2 no-such-command; then
    [ "$(lines "$tmp/err")" = 1 ] || fail "zbench no-such-command: $(lines "$tmp/err") stderr lines"
    grep -q "no-such-command" "$tmp/err" || fail "unknown command message does not name it: $(cat "$tmp/err")"
fi
run 0 --help && has '^  verify ' "zbench --help"
run 0 --version && has '^zbench ' "zbench --version"

if [ "$failures" -ne 0 ]; then
    echo "cli/list.sh: $failures of $checks checks failed" >&2
    exit 1
fi
echo "cli/list.sh: $checks checks passed"
