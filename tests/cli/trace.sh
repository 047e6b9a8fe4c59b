#!/bin/sh
# End-to-end: `zbench --trace`, `--trace-overhead` and `--profile-steps` on
# machines without a GPU. Bad values exit 2 with one line; where a run
# cannot be traced (a CPU plugin; a GPU plugin with no tracer library, a
# profiler attached, or CUPTI refusing) zbench says why in ONE line and
# records the run untraced, with that reason in its trace row.
# Usage: trace.sh BUILD_DIR
set -u
build=${1:-build}
zb="$build/zbench"
fake_gpu="$build/tests/plugins/libzb_fake_gpu.so"
export ZBENCH_PLUGIN_PATH="$build/plugins"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
checks=0
fail() { echo "FAIL [cli/trace.sh] $*" >&2; fails=$((fails + 1)); }
q() { sqlite3 -batch -noheader "$1" "$2"; }
lines() { awk 'END { print NR }' "$1"; }
tiny="--model zamba-tiny --seq 4 --gen 3 --reps 2 --warmup 0 --quiet"

# run WANT_RC ARGS...: zbench with stdout/stderr in $tmp/out, $tmp/err
run() {
    want=$1
    shift
    checks=$((checks + 1))
    "$zb" "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ "$rc" = "$want" ] && return 0
    fail "zbench $*: exit $rc, expected $want; stderr: $(head -c 1500 "$tmp/err")"
    return 1
}

# one_line WHAT TEXT: stderr is exactly one line, containing TEXT
one_line() {
    [ "$(lines "$tmp/err")" = 1 ] || fail "$1: $(lines "$tmp/err") lines on stderr, expected 1: $(cat "$tmp/err")"
    grep -qF -- "$2" "$tmp/err" || fail "$1: stderr lacks '$2': $(cat "$tmp/err")"
}

[ -x "$zb" ] || { echo "FAIL [cli/trace.sh] $zb is not built" >&2; exit 1; }

# --- bad values: exit 2, one line naming the option, nothing written -----
while IFS='|' read -r args msg; do
    rm -f "$tmp/bad.db"
    # shellcheck disable=SC2086
    if run 2 $tiny --plugin cpu_ref --db "$tmp/bad.db" $args; then
        one_line "$args" "$msg"
        [ -e "$tmp/bad.db" ] && fail "$args: a database was created"
    fi
done <<'EOF'
--trace=maybe|--trace: 'maybe' is not on or off
--trace maybe|unexpected argument 'maybe'
--trace-overhead|--trace-overhead measures tracing: it needs --trace
--trace off --trace-overhead|it needs --trace
--profile-steps 0:2|--profile-steps: '0:2' needs 1 <= A <= B
--profile-steps 3:1|--profile-steps: '3:1' needs 1 <= A <= B
--profile-steps x|--profile-steps: 'x' is not A:B
--profile-steps 5:9|no run has decode step 5 (the longest --gen is 3)
EOF
run 0 run --help && { grep -q -- '--trace \[on|off\]' "$tmp/out" || fail "--help does not list --trace"; }

# --- a CPU plugin: one line, recorded untraced ---------------------------
db="$tmp/cpu.db"
if run 0 $tiny --plugin cpu_ref --seq 4,8 --trace --db "$db"; then
    one_line "--trace on cpu_ref" "zbench: --trace: plugin cpu_ref runs on the CPU; CUPTI traces GPU plugins only"
    [ "$(q "$db" "select count(*) from runs where status = 'ok'")" = 2 ] || fail "cpu_ref --trace: runs not ok"
    [ "$(q "$db" "select count(*) from trace where status = 'untraced' and note like '%runs on the CPU%'")" = 2 ] ||
        fail "cpu_ref --trace: untraced trace rows expected: $(q "$db" "select * from trace")"
    [ "$(q "$db" "select count(*) from trace where records = 0 and dropped = 0 and batch_size is null
                  and decode_median_ms > 0 and baseline_run_id is null")" = 2 ] ||
        fail "cpu_ref --trace: trace row contents: $(q "$db" "select * from trace")"
    [ "$(q "$db" "select count(*) from kernels")" = 0 ] || fail "cpu_ref --trace: kernel rows written"
    grep -q '### Trace' "$tmp/out" && fail "cpu_ref --trace: a trace summary for an untraced run"
fi
# --trace-overhead makes no twin of a run it cannot trace
if run 0 $tiny --plugin cpu_ref --trace --trace-overhead --db "$tmp/cpu2.db"; then
    [ "$(q "$tmp/cpu2.db" "select count(*) from runs")" = 1 ] || fail "--trace-overhead on cpu_ref made a twin"
    [ "$(q "$tmp/cpu2.db" "select status from trace")" = untraced ] || fail "--trace-overhead: trace row"
fi
# without --trace (or with --trace off): no trace rows at all
for t in "" "--trace off"; do
    # shellcheck disable=SC2086
    if run 0 $tiny --plugin cpu_ref $t --db "$tmp/off.db"; then
        [ -s "$tmp/err" ] && fail "'$t': stderr not empty: $(cat "$tmp/err")"
    fi
done
[ "$(q "$tmp/off.db" "select count(*) from trace")" = 0 ] || fail "untraced sweeps wrote trace rows"
[ "$(q "$tmp/off.db" "select count(*) from runs")" = 2 ] || fail "untraced sweeps: 2 runs expected"
# machine-readable output stays machine-readable
if run 0 $tiny --plugin cpu_ref --trace --output json --db "$tmp/json.db"; then
    [ "$(q "$tmp/json.db" "select json_valid(readfile('$tmp/out'))")" = 1 ] || fail "--trace --output json: not JSON"
fi

# --- a GPU plugin where tracing cannot start: one line, untraced ---------
if [ ! -f "$fake_gpu" ]; then
    fail "$fake_gpu is not built"
else
    # untraced GPU runs: the reason in one line (once per sweep) and in every trace row
    untraced_gpu() { # WHAT REASON [ENV=VALUE...]
        what=$1 reason=$2
        shift 2
        rm -f "$tmp/g.db"
        checks=$((checks + 1))
        env "$@" "$zb" $tiny --plugin "$fake_gpu" --seq 4,8 --trace --db "$tmp/g.db" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        [ $rc = 0 ] || { fail "$what: exit $rc: $(cat "$tmp/err")"; return; }
        one_line "$what" "$reason"
        grep -qF "runs are recorded untraced" "$tmp/err" || fail "$what: does not say the runs go on untraced"
        [ "$(q "$tmp/g.db" "select count(*) from trace t join runs r on r.id = t.run_id
                            where t.status = 'untraced' and r.status = 'ok'")" = 2 ] ||
            fail "$what: 2 untraced ok runs expected: $(q "$tmp/g.db" "select * from trace")"
        [ "$(q "$tmp/g.db" "select count(*) from trace where instr(note, '$reason') > 0")" = 2 ] ||
            fail "$what: the trace rows do not carry the reason: $(q "$tmp/g.db" "select note from trace")"
    }
    untraced_gpu "no tracer library" "/nowhere/libzb_tracer.so (ZBENCH_TRACER) does not exist" \
        ZBENCH_TRACER=/nowhere/libzb_tracer.so
    untraced_gpu "under nsys" "Nsight Systems is attached (NSYS_PROFILING_SESSION_ID is set)" \
        NSYS_PROFILING_SESSION_ID=7
    untraced_gpu "under ncu" "Nsight Compute is attached (NV_NSIGHT_INJECTION_TRANSPORT_TYPE is set)" \
        NV_NSIGHT_INJECTION_TRANSPORT_TYPE=uds
    untraced_gpu "another injected tool" "a CUDA injection tool is attached (CUDA_INJECTION64_PATH=libtool.so)" \
        CUDA_INJECTION64_PATH=/opt/x/libtool.so
    # the real tracer: without a GPU CUPTI cannot subscribe, which is said
    # in one line; with one, the fake plugin is traced (and runs no kernel)
    if [ -f "$build/libzb_tracer.so" ]; then
        if nvidia-smi -L >/dev/null 2>&1; then
            if run 0 $tiny --plugin "$fake_gpu" --trace --db "$tmp/real.db"; then
                [ "$(q "$tmp/real.db" "select status || '/' || records from trace")" = "traced/0" ] ||
                    fail "real tracer on a GPU machine: $(q "$tmp/real.db" "select * from trace")"
                grep -q "No GPU activity was recorded for this run" "$tmp/out" || fail "real tracer: no summary"
            fi
        else
            untraced_gpu "real tracer, no GPU" "cupti"
        fi
    fi
fi

# --- --profile-steps without CUPTI: cuProfilerStart needs a CUDA driver -
if run 0 $tiny --plugin cpu_ref --gen 4 --profile-steps 2:3 --db "$tmp/p.db"; then
    one_line "--profile-steps on cpu_ref" "--profile-steps: cuProfilerStart: no CUDA driver library is loaded"
    [ "$(q "$tmp/p.db" "select count(*) from runs where status = 'ok'")" = 1 ] || fail "--profile-steps: run not ok"
fi

if [ "$fails" -ne 0 ]; then
    echo "cli/trace.sh: $fails of $checks checks failed" >&2
    exit 1
fi
echo "cli/trace.sh: $checks checks passed"
