#!/bin/sh
# End-to-end tests of `zbench run` on cpu_ref: a tiny sweep read back from
# SQLite, bad values, output formats, faults (plugin errors, NaN logits, a
# plugin that segfaults), SIGINT, SIGKILL and two concurrent writers, with
# and without per-run isolation. Usage: run_sweep.sh BUILD_DIR
set -u
build=${1:-build}
zb="$build/zbench"
fake="$build/tests/plugins/libzb_fake_backend.so"
export ZBENCH_PLUGIN_PATH="$build/plugins"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL run_sweep: $*" >&2; fails=$((fails + 1)); }
# A reader may meet SQLITE_BUSY while another connection recovers the WAL
# (after a killed writer): wait for it, as zbench's own connections do.
q() { sqlite3 -batch -noheader -cmd ".timeout 10000" "$1" "$2"; }
# Waits (up to 60 s) until database $1 holds a run in status 'running'.
wait_running() {
    i=0
    while [ $i -lt 600 ]; do
        [ "$(q "$1" "select count(*) from runs where status='running'" 2>/dev/null)" = 1 ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
tiny="--plugin cpu_ref --reps 2 --warmup 0 --quiet"

# --- a sweep, read back ------------------------------------------------
db="$tmp/a.db"
$zb $tiny --model zamba-tiny,llama2-tiny --seq 8,16 --gen 4 --db "$db" --output csv >"$tmp/a.csv"
rc=$?
[ $rc = 0 ] || fail "tiny sweep exited $rc"
[ "$(wc -l <"$tmp/a.csv")" = 5 ] || fail "csv should have a header and 4 rows"
[ "$(q "$db" "select count(*) from runs where status='ok'")" = 4 ] || fail "4 ok runs expected"
[ "$(q "$db" "select count(*) from results where phase='prefill'")" = 8 ] || fail "2 prefill results per run"
[ "$(q "$db" "select count(distinct seq) from runs")" = 2 ] || fail "seq list not swept"
# samples at steps 1, 2, 4 of each repetition
[ "$(q "$db" "select count(*) from samples where run_id=1")" = 6 ] || fail "samples along the generation"
# memory measured equals the prediction for cpu_ref (fp32 everywhere)
[ "$(q "$db" "select count(*) from memory where warning=1")" = 0 ] || fail "memory differs from the prediction"
[ "$(q "$db" "select count(*) from v_summary")" = 4 ] || fail "v_summary rows"
[ "$(q "$db" "select count(*) from stats where phase='decode' and metric='median' and value > 0")" = 4 ] ||
    fail "decode medians missing"
[ "$(q "$db" "select count(*) from devices")" -ge 1 ] || fail "the CPU was not calibrated"

# --- ranges and json ----------------------------------------------------
$zb $tiny --model mistral-tiny --seq 4-16*2 --gen 2 --db "$tmp/b.db" --output json >"$tmp/b.json" ||
    fail "range sweep failed"
[ "$(q "$tmp/b.db" "select group_concat(seq) from (select seq from runs order by id)")" = "4,8,16" ] ||
    fail "4-16*2 should expand to 4,8,16"
[ "$(q "$tmp/b.db" "select json_valid(readfile('$tmp/b.json'))")" = 1 ] || fail "--output json is not valid JSON"
[ "$(q "$tmp/b.db" "select json_array_length(json_extract(readfile('$tmp/b.json'), '\$[0].decode_ms[0]'))")" = 2 ] ||
    fail "json lacks the raw decode samples"
$zb $tiny --model mistral-tiny --seq 4 --gen 2 --db "$tmp/b.db" --output jsonl >"$tmp/b.jsonl" || fail "jsonl"
[ "$(q "$tmp/b.db" "select json_valid(readfile('$tmp/b.jsonl'))")" = 1 ] || fail "jsonl line is not JSON"

# --- bad values: exit 2, one line, nothing written -----------------------
for args in "--seq 0" "--seq abc" "--seq -3" "--gen x" "--batch 0" "--plugin nope" "--model nope" \
    "--seq 1048576 --gen 8" "--output xml" "--reps 0" "--bogus"; do
    rm -f "$tmp/bad.db"
    # shellcheck disable=SC2086
    $zb --plugin cpu_ref --model zamba-tiny --db "$tmp/bad.db" $args >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc = 2 ] || fail "'$args' exited $rc, expected 2"
    [ "$(wc -l <"$tmp/err")" = 1 ] || fail "'$args' printed $(wc -l <"$tmp/err") lines on stderr"
    [ -e "$tmp/bad.db" ] && fail "'$args' created the database"
done
grep -q "cpu_ref" "$tmp/err" 2>/dev/null || true

# --- faults: oom and plugin errors are recorded, the sweep goes on -------
ZB_FAKE_FAULT=oom_above=40 $zb --plugin "$fake" --model zamba-tiny --seq 8,64 --gen 4 --reps 1 --warmup 0 \
    --quiet --db "$tmp/f.db" >/dev/null
rc=$?
[ $rc = 1 ] || fail "a sweep with an oom run should exit 1, got $rc"
[ "$(q "$tmp/f.db" "select group_concat(status) from (select status from runs order by id)")" = "ok,oom" ] ||
    fail "oom not recorded"
q "$tmp/f.db" "select error from runs where status='oom'" | grep -q "bytes needed" || fail "oom error lacks the bytes"
# a plugin error or NaN logits mid-run: that run failed with the plugin's
# message, the next one runs; both isolated (the default for 2+ runs) and not
statuses() { q "$1" "select group_concat(status) from (select status from runs order by id)"; }
for mode in --isolate --no-isolate; do
    rm -f "$tmp/g.db" "$tmp/n.db"
    ZB_FAKE_FAULT=error_at=3 $zb --plugin "$fake" --model zamba-tiny --seq 8 --gen 4,2 --reps 1 --warmup 0 --quiet \
        $mode --db "$tmp/g.db" >/dev/null
    rc=$?
    [ $rc = 1 ] || fail "$mode: a sweep with a failed run should exit 1, got $rc"
    [ "$(statuses "$tmp/g.db")" = "failed,ok" ] || fail "$mode: plugin error: runs $(statuses "$tmp/g.db")"
    q "$tmp/g.db" "select error from runs where id=1" | grep -q "injected failure at decode 3" ||
        fail "$mode: plugin error not recorded with its message"
    ZB_FAKE_FAULT=nan_at=2 $zb --plugin "$fake" --model zamba-tiny --seq 8 --gen 4,1 --reps 1 --warmup 0 --quiet \
        $mode --db "$tmp/n.db" >/dev/null
    [ "$(statuses "$tmp/n.db")" = "failed,ok" ] || fail "$mode: NaN logits: runs $(statuses "$tmp/n.db")"
    [ "$(q "$tmp/n.db" "select count(*) from runs where status='failed' and error like '%non-finite%'")" = 1 ] ||
        fail "$mode: NaN logits not recorded as a failed run"
done

# --- a plugin that segfaults -------------------------------------------------
# Isolated: runs 1 and 3 kept, run 2 recorded crashed with its signal, all
# three in the output (json stays one valid array across the processes).
ZB_FAKE_FAULT=crash_at=5 $zb --plugin "$fake" --model zamba-tiny --seq 8 --gen 2,8,2 --reps 1 --warmup 0 --quiet \
    --db "$tmp/s.db" --output json >"$tmp/s.json" 2>"$tmp/s.err"
rc=$?
[ $rc = 1 ] || fail "a sweep with a crashed run should exit 1, got $rc"
[ "$(statuses "$tmp/s.db")" = "ok,crashed,ok" ] || fail "segfault: runs $(statuses "$tmp/s.db"), expected ok,crashed,ok"
q "$tmp/s.db" "select error from runs where id=2" | grep -q "SIGSEGV" || fail "segfault: run 2 lacks the signal"
[ "$(q "$tmp/s.db" "select count(distinct run_id) from results")" = 2 ] || fail "segfault: results of runs 1, 3 lost"
[ "$(q "$tmp/s.db" "select count(*) from runs where ended_at is null")" = 0 ] || fail "segfault: a run not ended"
[ "$(q "$tmp/s.db" "select json_valid(readfile('$tmp/s.json'))")" = 1 ] || fail "segfault: json output not valid"
[ "$(q "$tmp/s.db" "select json_array_length(readfile('$tmp/s.json'))")" = 3 ] || fail "segfault: json lacks a run"
[ "$(q "$tmp/s.db" "select json_extract(readfile('$tmp/s.json'), '\$[1].status')")" = crashed ] ||
    fail "segfault: json row 2 not crashed"
[ -s "$tmp/s.err" ] && fail "segfault: stderr should be quiet: $(cat "$tmp/s.err")"
# the same in one process: the crash takes the sweep with it, run 1 stays
# recorded, run 2 visibly unfinished (why isolation is the default)
ZB_FAKE_FAULT=crash_at=5 $zb --plugin "$fake" --model zamba-tiny --seq 8 --gen 2,8,2 --reps 1 --warmup 0 --quiet \
    --no-isolate --db "$tmp/s1.db" >/dev/null 2>&1
rc=$?
[ $rc = 139 ] || fail "unisolated segfault should die of SIGSEGV (139), got $rc"
[ "$(statuses "$tmp/s1.db")" = "ok,running" ] || fail "unisolated segfault: runs $(statuses "$tmp/s1.db")"

# --- SIGINT: the run is marked interrupted, exit 130 --------------------
$zb --plugin cpu_ref --model zamba-tiny --seq 8 --gen 100000 --reps 1 --warmup 0 --quiet --db "$tmp/i.db" \
    >/dev/null 2>&1 &
pid=$!
wait_running "$tmp/i.db" || fail "the run never started"
sleep 1
kill -INT $pid
wait $pid
rc=$?
[ $rc = 130 ] || fail "SIGINT should exit 130, got $rc"
[ "$(q "$tmp/i.db" "select status from runs")" = interrupted ] || fail "run not marked interrupted"
[ "$(q "$tmp/i.db" "select count(*) from samples")" -gt 0 ] || fail "samples of the interrupted run lost"

# --- SIGKILL: a valid database with the run visibly unfinished ----------
$zb --plugin cpu_ref --model zamba-tiny --seq 8 --gen 100000 --reps 1 --warmup 0 --quiet --db "$tmp/k.db" \
    >/dev/null 2>&1 &
pid=$!
wait_running "$tmp/k.db" || fail "the run never started"
sleep 0.5
kill -KILL $pid
wait $pid 2>/dev/null
[ "$(q "$tmp/k.db" "pragma integrity_check")" = ok ] || fail "database damaged by kill -9"
[ "$(q "$tmp/k.db" "select status from runs")" = running ] || fail "killed run should stay 'running'"

# --- SIGINT and SIGKILL with isolation ---------------------------------------
# the parent passes SIGINT on to the child running the configuration: the
# run is recorded interrupted, no later run starts, exit 130
$zb --plugin cpu_ref --model zamba-tiny --seq 8,9 --gen 100000 --reps 1 --warmup 0 --quiet --db "$tmp/ii.db" \
    >/dev/null 2>&1 &
pid=$!
wait_running "$tmp/ii.db" || fail "isolated: the run never started"
sleep 1
kill -INT $pid
wait $pid
rc=$?
[ $rc = 130 ] || fail "isolated: SIGINT should exit 130, got $rc"
[ "$(statuses "$tmp/ii.db")" = interrupted ] || fail "isolated: runs after SIGINT: $(statuses "$tmp/ii.db")"
[ "$(q "$tmp/ii.db" "select count(*) from samples")" -gt 0 ] || fail "isolated: samples of the interrupted run lost"
# a parent killed outright: its child is told (SIGTERM) and records the run
# interrupted rather than running on unwatched
$zb --plugin cpu_ref --model zamba-tiny --seq 8,9 --gen 100000 --reps 1 --warmup 0 --quiet --db "$tmp/ik.db" \
    >/dev/null 2>&1 &
pid=$!
wait_running "$tmp/ik.db" || fail "isolated: the run never started"
sleep 0.5
kill -KILL $pid
wait $pid 2>/dev/null
i=0
while [ $i -lt 300 ] && [ "$(statuses "$tmp/ik.db")" = running ]; do
    sleep 0.1
    i=$((i + 1))
done
[ "$(statuses "$tmp/ik.db")" = interrupted ] || fail "isolated: child of a killed parent: $(statuses "$tmp/ik.db")"

# --- CUDA graph counters (zb.graph_stats.v1) into stats, phase 'graph' ---
# fake_gpu counts as cuda_graph: 3 repetitions (1 warm-up) of 5 steps on
# one session: 1 eager step, 1 capture, 14 replays
fake_gpu="$build/tests/plugins/libzb_fake_gpu.so"
$zb --plugin "$fake_gpu" --model zamba-tiny --seq 4 --gen 5 --reps 2 --warmup 1 --quiet --db "$tmp/g.db" \
    --output json >"$tmp/g.json" || fail "fake_gpu run failed"
[ "$(q "$tmp/g.db" "select group_concat(metric || '=' || value, ' ') from (select metric, value from stats
    where phase = 'graph' order by metric)")" = "capture_ms=0.5 captures=1.0 decode_nodes=7.0 eager=1.0 graphs=1.0 replays=14.0" ] ||
    fail "graph stats: $(q "$tmp/g.db" "select group_concat(metric || '=' || value) from stats where phase = 'graph'")"
grep -q '"graphs":{"captures":1,"replays":14,"capture_ms":0.5}' "$tmp/g.json" ||
    fail "json output lacks the graph counters: $(cat "$tmp/g.json")"
# a plugin without graphs records none
[ "$(q "$db" "select count(*) from stats where phase = 'graph'")" = 0 ] || fail "cpu_ref recorded graph stats"

# --- two writers at once ------------------------------------------------
$zb $tiny --model zamba-tiny --seq 4,8,12 --gen 2 --db "$tmp/c.db" >/dev/null &
p1=$!
$zb $tiny --model llama2-tiny --seq 4,8,12 --gen 2 --db "$tmp/c.db" >/dev/null &
p2=$!
wait $p1 || fail "first concurrent writer failed"
wait $p2 || fail "second concurrent writer failed"
[ "$(q "$tmp/c.db" "select count(*) from runs where status='ok'")" = 6 ] || fail "concurrent runs missing"

[ $fails = 0 ] && echo "run_sweep: all passed"
exit $((fails > 0))
