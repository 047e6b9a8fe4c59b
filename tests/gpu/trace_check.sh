#!/bin/sh
# GPU check of `zbench --trace` (run by tests/run_gpu_tests.sh and `make
# test-trace`; SKIPs without a GPU). A traced tiny Zamba run on cuda_fused
# (zamba-tiny: 9 layers, hybrid at 2 and 7) must record, through CUPTI,
# the expected kernels of every layer part in every phase, attributed to
# their decode steps, with nothing dropped or unattributed, and the
# overhead against an untraced twin. Then --profile-steps and --nvtx off;
# cuda_graph's graph-launched kernels when that plugin is built; and, when
# ncu (or nsys) is installed, the README's Nsight command lines.
# Usage: trace_check.sh BUILD_DIR
set -u
build=${1:-build}
zb="$build/zbench"
export ZBENCH_PLUGIN_PATH="$build/plugins"
if ! nvidia-smi -L >/dev/null 2>&1; then
    echo "SKIP trace_check: no GPU"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL [trace_check] $*" >&2; fails=$((fails + 1)); }
# the sqlite3 shell, or Python's sqlite3 module where the shell is missing
if command -v sqlite3 >/dev/null 2>&1; then
    q() { sqlite3 -batch -noheader "$db" "$1"; }
elif command -v python3 >/dev/null 2>&1; then
    q() {
        python3 -c 'import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))' "$db" "$1"
    }
else
    echo "FAIL [trace_check] neither the sqlite3 shell nor python3 is installed" >&2
    exit 1
fi
# expect WHAT SQL WANT: the query's one value equals WANT
expect() {
    got=$(q "$2")
    [ "$got" = "$3" ] || fail "$1: got '$got', expected '$3'"
}
for f in "$zb" "$build/libzb_tracer.so" "$build/plugins/libzb_cuda_fused.so"; do
    [ -e "$f" ] || { echo "FAIL [trace_check] $f is not built" >&2; exit 1; }
done

tiny="--plugin cuda_fused --model zamba-tiny --seq 64 --gen 16 --reps 3 --warmup 1 --quiet"

# --- the traced run, with its untraced twin -----------------------------
db="$tmp/t.db"
# shellcheck disable=SC2086
"$zb" $tiny --trace --trace-overhead --db "$db" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] || { fail "traced run exited $rc: $(cat "$tmp/err")"; }
[ -s "$tmp/err" ] && fail "traced run: stderr not empty: $(cat "$tmp/err")"
# the session dtype is the build's 16-bit format (Makefile, ZB_HALF)
grep -Eq '^### Trace of run 2: cuda_fused zamba-tiny \(zamba, b?f16\)' "$tmp/out" || fail "no trace summary on stdout"
expect "runs" "select group_concat(status) from (select status from runs order by id)" "ok,ok"
expect "twin's trace row" "select status from trace where run_id = 1" "baseline"
expect "traced run's trace row" "select status || ' ' || (records > 0) || ' ' || dropped || ' ' || lost || ' ' ||
    unattributed || ' ' || baseline_run_id from trace where run_id = 2" "traced 1 0 0 0 1"
expect "the overhead, recorded" "select count(*) from trace where run_id = 2 and decode_overhead_pct is not null
    and prefill_overhead_pct is not null and decode_median_ms > 0 and baseline_decode_median_ms > 0" "1"
expect "rows = records" "select count(*) = (select records from trace where run_id = 2) from kernels where run_id = 2" 1
expect "nothing traced for the twin" "select count(*) from kernels where run_id = 1" 0
expect "no warm-up rows" "select count(*) from kernels where rep < 0" 0
# every timed decode step of every repetition, and the prefills
expect "decode steps" "select count(distinct rep * 1000 + step) from kernels where run_id = 2 and phase = 'decode'" 48
expect "prefills" "select count(distinct rep) from kernels where run_id = 2 and phase = 'prefill'" 3
# (flash-decoding's chunk count follows the context, so steps may differ;
# one step in every repetition may not)
expect "same kernels in a step of every repetition" "select count(*) from (select step from (select rep, step,
    count(*) as n from kernels where run_id = 2 and phase = 'decode' group by rep, step)
    group by step having count(distinct n) > 1)" 0
# layers: Mamba in all 9, attention and MLP only at the hybrid layers
for phase in prefill decode; do
    expect "$phase: mamba layers" "select group_concat(layer) from (select distinct layer from kernels
        where run_id = 2 and phase = '$phase' and part = 'mamba' order by layer)" "0,1,2,3,4,5,6,7,8"
    for part in attention mlp; do
        expect "$phase: $part layers" "select group_concat(layer) from (select distinct layer from kernels
            where run_id = 2 and phase = '$phase' and part = '$part' order by layer)" "2,7"
    done
    expect "$phase: embed and logits" "select group_concat(part) from (select distinct part from kernels
        where run_id = 2 and phase = '$phase' and layer is null and part is not null order by part)" "embed,logits"
done
# the classes each part must show (the kernels of plugins/cuda_common);
# a mismatch lists the part's kernels, to see which name was misclassed
has_classes() { # PHASE PART CLASSES
    got=$(q "select group_concat(class) from (select distinct class from kernels where run_id = 2 and phase = '$1'
       and part = '$2' and kind = 'kernel' order by class)")
    [ "$got" = "$3" ] || fail "$1 $2: classes $got, expected $3; its kernels: $(q "select distinct class || ' ' ||
       name from kernels where run_id = 2 and phase = '$1' and part = '$2' and kind = 'kernel'")"
}
has_classes prefill mamba "conv,gemm,norm,other,scan"
expect "the prefill mixer's 'other' is its dt_raw conversion" "select group_concat(distinct name) from kernels where
    run_id = 2 and phase = 'prefill' and part = 'mamba' and class = 'other' and name not like '%f32_cols_to_half%'" ""
has_classes decode mamba "gemm,norm,scan"
for phase in prefill decode; do
    has_classes $phase attention "attention,gemm,norm"
    has_classes $phase mlp "gemm,norm,other"
done
expect "the mlp's 'other' is its activation" "select group_concat(distinct name) from kernels where run_id = 2
    and part = 'mlp' and class = 'other' and name not like '%gated_act%'" ""
# CUPTI's fields: demangled names, launch configurations, streams
expect "names demangled" "select count(*) from kernels where name like '\\_Z%' escape '\\'" 0
expect "demangled C++ names" "select count(*) > 0 from kernels where name like 'void %(%)'" 1
expect "launch configurations" "select count(*) from kernels where kind = 'kernel' and run_id = 2 and
    not (grid_x > 0 and block_x > 0 and registers > 0 and static_smem >= 0 and dynamic_smem >= 0)" 0
expect "durations" "select count(*) from kernels where end_ns <= start_ns" 0
expect "copies: bytes and kind" "select count(*) from kernels where kind = 'memcpy' and (bytes is null or
    copy_kind is null)" 0
expect "views" "select count(*) > 0 from v_kernel_top where run_id = 2 and phase = 'decode' and rank = 1" 1
expect "class shares add up" "select round(sum(pct_of_phase)) from v_kernel_class where run_id = 2 and
    phase = 'decode'" "100.0"
overhead=$(q "select printf('decode %+.1f%% (%.4f ms traced, %.4f untraced), prefill %+.1f%%',
    decode_overhead_pct, decode_median_ms, baseline_decode_median_ms, prefill_overhead_pct) from trace where run_id = 2")
echo "trace_check: tracing overhead on zamba-tiny: $overhead"
per_layer=$(q "select count(*) from kernels where run_id = 2 and rep = 0 and step = 2 and layer = 3 and
    part = 'mamba' and kind = 'kernel'")
per_step=$(q "select count(*) from kernels where run_id = 2 and rep = 0 and step = 2 and kind = 'kernel'")

# --- --profile-steps and --nvtx off -------------------------------------
db="$tmp/p.db"
# shellcheck disable=SC2086
"$zb" $tiny --trace --profile-steps 3:4 --nvtx off --db "$db" >/dev/null 2>"$tmp/err" ||
    fail "--profile-steps run failed: $(cat "$tmp/err")"
expect "--profile-steps: only those decode steps" "select group_concat(k) from (select distinct phase || ':' || step
    as k from kernels order by k)" "decode:3,decode:4"
expect "--profile-steps: every repetition" "select count(distinct rep) from kernels" 3
expect "--profile-steps: recorded" "select profile_first || ':' || profile_last || ' ' || unattributed from trace" "3:4 0"
expect "--nvtx off: layers still attributed" "select count(*) from kernels where layer is null and part is null" 0

# --- cuda_graph: kernels launched from CUDA graphs ----------------------
if [ -f "$build/plugins/libzb_cuda_graph.so" ]; then
    db="$tmp/g.db"
    # shellcheck disable=SC2086
    "$zb" --plugin cuda_graph --model zamba-tiny --seq 64 --gen 16 --reps 3 --warmup 1 --quiet --trace \
        --db "$db" >/dev/null 2>"$tmp/err" || fail "cuda_graph traced run failed: $(cat "$tmp/err")"
    expect "cuda_graph: graph kernels" "select count(*) > 0 from kernels where phase = 'decode' and graph_id is not null
        and graph_node_id is not null" 1
    expect "cuda_graph: graph kernels in layers" "select count(distinct layer) from kernels where phase = 'decode'
        and graph_id is not null and part = 'mamba'" 9
    expect "cuda_graph: nothing unattributed" "select unattributed || ' ' || dropped from trace" "0 0"
else
    echo "SKIP trace_check cuda_graph: the plugin is not built"
fi

# --- Nsight Compute: the README's command lines --------------------------
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu /usr/local/cuda/bin/ncu 2>/dev/null | head -n 1)
if [ -n "$ncu" ] && [ -x "$ncu" ]; then
    one="--plugin cuda_fused --model zamba-tiny --seq 64 --gen 4 --reps 1 --warmup 0 --quiet"
    profiled() { grep -c '^==PROF== Profiling' "$1"; }
    # one layer's kernels in one decode step
    # shellcheck disable=SC2086
    "$ncu" --nvtx --nvtx-include "zbench@decode step 2/*/layer 3 mamba" --metrics gpu__time_duration.sum \
        "$zb" $one --db "$tmp/n1.db" >"$tmp/ncu1" 2>&1 || fail "ncu --nvtx-include failed: $(tail -5 "$tmp/ncu1")"
    [ "$(profiled "$tmp/ncu1")" = "$per_layer" ] ||
        fail "ncu --nvtx-include profiled $(profiled "$tmp/ncu1") kernels, the trace has $per_layer: $(tail -20 "$tmp/ncu1")"
    # the decode steps of --profile-steps only
    # shellcheck disable=SC2086
    "$ncu" --profile-from-start off --metrics gpu__time_duration.sum \
        "$zb" $one --profile-steps 2:2 --db "$tmp/n2.db" >"$tmp/ncu2" 2>&1 ||
        fail "ncu --profile-from-start off failed: $(tail -5 "$tmp/ncu2")"
    [ "$(profiled "$tmp/ncu2")" = "$per_step" ] ||
        fail "ncu with --profile-steps 2:2 profiled $(profiled "$tmp/ncu2") kernels, a step has $per_step"
    # --trace under ncu: one line, untraced, the run goes on
    # shellcheck disable=SC2086
    "$ncu" --metrics gpu__time_duration.sum -c 1 "$zb" $one --trace --db "$tmp/n3.db" >"$tmp/ncu3" 2>&1 ||
        fail "ncu + --trace failed: $(tail -5 "$tmp/ncu3")"
    [ "$(grep -c '^zbench: --trace: Nsight Compute is attached' "$tmp/ncu3")" = 1 ] ||
        fail "ncu + --trace: no one-line explanation: $(grep zbench "$tmp/ncu3")"
    db="$tmp/n3.db"
    expect "ncu + --trace: untraced" "select trace.status || ' ' || r.status from trace join runs r on r.id = trace.run_id" \
        "untraced ok"
    # CUPTI itself refusing (the environment check skipped): one line, untraced
    # shellcheck disable=SC2086
    ZBENCH_TRACE_FORCE=1 "$ncu" --metrics gpu__time_duration.sum -c 1 "$zb" $one --trace --db "$tmp/n4.db" \
        >"$tmp/ncu4" 2>&1 || fail "ncu + forced --trace failed: $(tail -5 "$tmp/ncu4")"
    [ "$(grep -c '^zbench: --trace: .*runs are recorded untraced' "$tmp/ncu4")" = 1 ] ||
        fail "ncu + forced --trace: no one-line CUPTI refusal: $(grep zbench "$tmp/ncu4")"
    db="$tmp/n4.db"
    expect "ncu + forced --trace: untraced" "select trace.status || ' ' || r.status from trace join runs r on r.id = trace.run_id" \
        "untraced ok"
    echo "trace_check: CUPTI under ncu said: $(grep '^zbench: --trace' "$tmp/ncu4")"
else
    echo "SKIP trace_check ncu: Nsight Compute (ncu) is not installed"
fi

# --- Nsight Systems, where installed --------------------------------------
if command -v nsys >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    nsys profile --trace=cuda,nvtx --capture-range=cudaProfilerApi -o "$tmp/sys" -f true \
        "$zb" --plugin cuda_fused --model zamba-tiny --seq 64 --gen 8 --reps 1 --warmup 0 --quiet \
        --profile-steps 2:3 --trace --db "$tmp/s.db" >"$tmp/nsys" 2>&1 || fail "nsys profile failed: $(tail -5 "$tmp/nsys")"
    [ "$(grep -c '^zbench: --trace: Nsight Systems is attached' "$tmp/nsys")" = 1 ] ||
        fail "nsys + --trace: no one-line explanation"
    nsys stats --report nvtx_sum "$tmp/sys.nsys-rep" >"$tmp/nsys-stats" 2>&1 || fail "nsys stats failed"
    grep -q 'layer 3 mamba' "$tmp/nsys-stats" || fail "nsys: no 'layer 3 mamba' range: $(head -30 "$tmp/nsys-stats")"
else
    echo "SKIP trace_check nsys: Nsight Systems (nsys) is not on the PATH"
fi

if [ $fails -ne 0 ]; then
    echo "trace_check: $fails checks failed" >&2
    exit 1
fi
echo "trace_check: all checks passed"
