#!/bin/sh
# End-to-end faults of the run record as `zbench run` meets them: a schema
# newer than this zbench, a file that is not a database, a directory that
# does not exist, a read-only file. Each must stop zbench before any run,
# with a non-zero exit and one line on stderr naming the file, and leave
# the file as it was. (Kills, signals and concurrent writers are covered by
# run_sweep.sh; lock time-outs by tests/test_recorder.c, which can shorten
# the 10 s busy timeout.) Usage: recorder_faults.sh BUILD_DIR
set -u
build=${1:-build}
zb="$build/zbench"
export ZBENCH_PLUGIN_PATH="$build/plugins"
if [ ! -x "$zb" ] || [ ! -f "$build/plugins/libzb_cpu_ref.so" ] || ! command -v sqlite3 >/dev/null; then
    echo "SKIP recorder_faults: needs $zb, the cpu_ref plugin and the sqlite3 shell"
    exit 0
fi
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL recorder_faults: $*" >&2; fails=$((fails + 1)); }
tiny="--plugin cpu_ref --model zamba-tiny --seq 4 --gen 2 --reps 1 --warmup 0 --quiet"

# Runs zbench on database $1 and checks: non-zero exit, one stderr line
# containing the path and the text $2.
refused() {
    # shellcheck disable=SC2086
    $zb $tiny --db "$1" >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc != 0 ] || fail "$1: zbench exited 0"
    [ "$(wc -l <"$tmp/err")" = 1 ] || fail "$1: $(wc -l <"$tmp/err") lines on stderr, expected 1"
    grep -qF "$1" "$tmp/err" || fail "$1: message does not name the file: $(cat "$tmp/err")"
    grep -qF "$2" "$tmp/err" || fail "$1: message lacks '$2': $(cat "$tmp/err")"
}

# --- a newer schema: refused, byte for byte unchanged --------------------
sqlite3 "$tmp/new.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1); PRAGMA user_version = 99;"
cp "$tmp/new.db" "$tmp/new.orig"
refused "$tmp/new.db" "schema version 99"
grep -qF "version 2 this zbench knows" "$tmp/err" || fail "newer schema: message lacks this zbench's version"
cmp -s "$tmp/new.db" "$tmp/new.orig" || fail "newer schema: the file was changed"
[ -e "$tmp/new.db-wal" ] && fail "newer schema: a WAL file was created"

# --- not a database --------------------------------------------------------
yes "not an SQLite file" | head -n 200 >"$tmp/junk.db"
cp "$tmp/junk.db" "$tmp/junk.orig"
refused "$tmp/junk.db" "not a database"
cmp -s "$tmp/junk.db" "$tmp/junk.orig" || fail "junk file: it was changed"

# --- a directory that does not exist: nothing created ---------------------
refused "$tmp/missing/dir/z.db" "cannot open"
[ -e "$tmp/missing" ] && fail "missing directory: it was created"

# --- read-only file (root ignores file modes, so only as another user) ----
if [ "$(id -u)" != 0 ]; then
    # shellcheck disable=SC2086
    $zb $tiny --db "$tmp/ro.db" >/dev/null || fail "could not make a database to write-protect"
    chmod 0444 "$tmp/ro.db"
    refused "$tmp/ro.db" "read-only"
    [ "$(sqlite3 -batch -noheader "$tmp/ro.db" "select count(*) from runs")" = 1 ] || fail "read-only file changed"
else
    echo "recorder_faults: read-only case skipped (running as root, which ignores file modes)"
fi

# --- and a good file still works after all that ---------------------------
# shellcheck disable=SC2086
$zb $tiny --db "$tmp/ok.db" >/dev/null || fail "a run on a fresh database failed"
[ "$(sqlite3 -batch -noheader "$tmp/ok.db" "select status from v_summary")" = ok ] || fail "fresh run not ok"

[ $fails = 0 ] && echo "recorder_faults: all passed"
exit $((fails > 0))
