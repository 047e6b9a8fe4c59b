#!/bin/sh
# End-to-end faults of the run record as `zbench run` meets them: a schema
# newer than this zbench, a file that is not a database, a directory that
# does not exist, a read-only file, a full disk, a lock held by another
# writer past the busy timeout. At open, each must stop zbench before any
# run, with a non-zero exit and one line on stderr naming the file, and
# leave the file as it was. Mid-sweep (a full disk, a lock), the runs
# already recorded must stay intact, the run that met the fault be recorded
# failed with the reason when one small write still goes through (else left
# 'running', visibly unfinished), and the sweep stop with exit 1. (Kills,
# signals and concurrent writers are covered by run_sweep.sh.)
# Usage: recorder_faults.sh BUILD_DIR
set -u
build=${1:-build}
zb="$build/zbench"
export ZBENCH_PLUGIN_PATH="$build/plugins"
if [ ! -x "$zb" ] || [ ! -f "$build/plugins/libzb_cpu_ref.so" ] || ! command -v sqlite3 >/dev/null; then
    echo "SKIP recorder_faults: needs $zb, the cpu_ref plugin and the sqlite3 shell"
    exit 0
fi
tmp=$(mktemp -d)
trap 'umount "$tmp/mnt" 2>/dev/null; chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL recorder_faults: $*" >&2; fails=$((fails + 1)); }
tiny="--plugin cpu_ref --model zamba-tiny --seq 4 --gen 2 --reps 1 --warmup 0 --quiet"
q() { sqlite3 -batch -noheader "$1" "$2"; }

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
grep -qF "version 3 this zbench knows" "$tmp/err" || fail "newer schema: message lacks this zbench's version"
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

# --- read-only file ------------------------------------------------------
# root ignores file modes, so as root zbench runs as the unprivileged user
# nobody (setpriv), for whom the 0444 file really is read-only
# shellcheck disable=SC2086
$zb $tiny --db "$tmp/ro.db" >/dev/null || fail "could not make a database to write-protect"
chmod 0444 "$tmp/ro.db"
as_user=""
if [ "$(id -u)" = 0 ]; then
    as_user="setpriv --reuid=65534 --regid=65534 --clear-groups"
    chmod 0755 "$tmp"
    # shellcheck disable=SC2086
    if ! command -v setpriv >/dev/null || ! $as_user "$zb" list >/dev/null 2>&1; then
        as_user=skip
        echo "recorder_faults: read-only case skipped (root, and user nobody cannot run $zb through setpriv)"
    fi
fi
if [ "$as_user" != skip ]; then
    # shellcheck disable=SC2086
    $as_user $zb $tiny --db "$tmp/ro.db" >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc != 0 ] || fail "read-only file: zbench exited 0"
    [ "$(wc -l <"$tmp/err")" = 1 ] || fail "read-only file: $(wc -l <"$tmp/err") lines on stderr: $(cat "$tmp/err")"
    grep -qF "$tmp/ro.db" "$tmp/err" && grep -qF "read-only" "$tmp/err" ||
        fail "read-only file: message lacks the file or 'read-only': $(cat "$tmp/err")"
    [ "$(sqlite3 -batch -noheader "$tmp/ro.db" "select count(*) from runs")" = 1 ] || fail "read-only file changed"
fi
chmod 0700 "$tmp"

# --- a bad busy timeout in the environment ---------------------------------
# shellcheck disable=SC2086
ZBENCH_DB_BUSY_TIMEOUT_MS=soon $zb $tiny --db "$tmp/t.db" >/dev/null 2>"$tmp/err"
[ $? = 2 ] || fail "ZBENCH_DB_BUSY_TIMEOUT_MS=soon should exit 2"
grep -qF "ZBENCH_DB_BUSY_TIMEOUT_MS" "$tmp/err" || fail "bad timeout: message does not name it: $(cat "$tmp/err")"
[ -e "$tmp/t.db" ] && fail "bad timeout: the database was created"

# --- locked by another writer for longer than the busy timeout -------------
# Holds the write lock of database $1 (an sqlite3 shell in a transaction)
# for $2 seconds, or while process $3 lives, and returns once the lock is
# taken: the shell prints a line only after BEGIN IMMEDIATE succeeded
# (waiting out zbench's own short transactions).
hold_lock() {
    rm -f "$tmp/locker.out"
    {
        echo ".timeout 5000"
        echo "BEGIN IMMEDIATE;"
        echo "SELECT 'locked';"
        if [ -n "${3:-}" ]; then
            while kill -0 "$3" 2>/dev/null; do sleep 0.1; done
        else
            sleep "$2"
        fi
        echo "ROLLBACK;"
    } |
        sqlite3 "$1" >"$tmp/locker.out" 2>&1 &
    locker=$!
    i=0
    while [ $i -lt 200 ]; do
        grep -q locked "$tmp/locker.out" 2>/dev/null && return 0
        sleep 0.05
        i=$((i + 1))
    done
    fail "could not take the lock on $1: $(cat "$tmp/locker.out")"
}
# shellcheck disable=SC2086
$zb $tiny --db "$tmp/lock.db" >/dev/null || fail "could not make a database to lock"
hold_lock "$tmp/lock.db" 3
start=$(date +%s)
export ZBENCH_DB_BUSY_TIMEOUT_MS=300
refused "$tmp/lock.db" "300 ms"
unset ZBENCH_DB_BUSY_TIMEOUT_MS
grep -qiF "locked" "$tmp/err" || fail "locked file: message lacks 'locked': $(cat "$tmp/err")"
[ $(($(date +%s) - start)) -lt 5 ] || fail "locked file: zbench waited past its 300 ms timeout"
wait $locker
[ "$(sqlite3 -batch -noheader "$tmp/lock.db" "select count(*) from runs")" = 1 ] || fail "locked file: runs changed"

# Mid-sweep: the lock is taken after the first run is recorded and held
# until zbench gives up. The run that meets it cannot be completed (its row
# stays 'running': writing that it failed needs the same lock), the first
# stays ok, the sweep stops.
ZBENCH_DB_BUSY_TIMEOUT_MS=300 $zb --plugin cpu_ref --model zamba-tiny --seq 4,5,6,7,8,9,10,11 --gen 400 --reps 1 \
    --warmup 0 --quiet --db "$tmp/lock.db" >/dev/null 2>"$tmp/err" &
pid=$!
i=0
while [ $i -lt 600 ] && [ "$(sqlite3 -batch -noheader "$tmp/lock.db" "select count(*) from runs where status='ok'" \
    2>/dev/null)" != 2 ]; do
    sleep 0.05
    i=$((i + 1))
done
hold_lock "$tmp/lock.db" 0 $pid
wait $pid
rc=$?
wait $locker
[ $rc = 1 ] || fail "lock mid-sweep: exit $rc, expected 1 ($(cat "$tmp/err"))"
grep -qF "$tmp/lock.db" "$tmp/err" && grep -qiF "locked" "$tmp/err" ||
    fail "lock mid-sweep: message lacks the file or 'locked': $(cat "$tmp/err")"
n_ok=$(q "$tmp/lock.db" "select count(*) from runs where status='ok'")
[ "$n_ok" -ge 2 ] && [ "$n_ok" -lt 9 ] || fail "lock mid-sweep: $n_ok ok runs, expected the first ones only"
[ "$(q "$tmp/lock.db" "select count(*) from runs where status not in ('ok','running','failed')")" = 0 ] ||
    fail "lock mid-sweep: unexpected statuses: $(q "$tmp/lock.db" "select group_concat(status) from runs")"
[ "$(q "$tmp/lock.db" "pragma integrity_check")" = ok ] || fail "lock mid-sweep: database damaged"

# --- a full disk -------------------------------------------------------------
# Writes fail as on a full disk when the file size limit is low: no root or
# mount needed. SIGXFSZ is ignored, so a write past it fails with EFBIG
# instead of killing zbench. (sh counts ulimit -f in 512-byte blocks.)
# $1: limit in KiB, $2: database; the rest: zbench's arguments.
limited() {
    blocks=$(($1 * 2))
    db=$2
    shift 2
    (
        trap '' XFSZ
        ulimit -f "$blocks" && exec "$zb" "$@" --db "$db"
    ) >/dev/null 2>"$tmp/err"
}
# Checks a sweep that met a full disk: exit 1, one line naming the file, the
# runs before it ok, the one that met it failed with the reason or never
# begun, none left 'running', the file consistent. $1: db, $2: runs asked.
check_full_mid_sweep() {
    rc=$1
    db=$2
    [ "$rc" = 1 ] || fail "$db: full disk mid-sweep: exit $rc, expected 1"
    [ "$(wc -l <"$tmp/err")" = 1 ] || fail "$db: full disk mid-sweep: stderr: $(cat "$tmp/err")"
    grep -qF "$db" "$tmp/err" || fail "$db: full disk mid-sweep: message does not name the file: $(cat "$tmp/err")"
    n_ok=$(q "$db" "select count(*) from runs where status='ok'")
    n=$(q "$db" "select count(*) from runs")
    [ "$n_ok" -ge 1 ] && [ "$n_ok" -lt "$3" ] || fail "$db: $n_ok of $3 runs ok: the limit did not bite mid-sweep"
    [ "$(q "$db" "select count(*) from runs where id <= $n_ok and status='ok'")" = "$n_ok" ] ||
        fail "$db: the runs before the fault are not the ok ones"
    [ "$(q "$db" "select count(*) from runs where status='running'")" = 0 ] || fail "$db: a run was left 'running'"
    [ "$n" = "$n_ok" ] || q "$db" "select error from runs where id = $n" | grep -q "results not recorded" ||
        fail "$db: the run that met the full disk lacks its reason: $(q "$db" "select status, error from runs")"
    [ "$(q "$db" "pragma integrity_check")" = ok ] || fail "$db: database damaged"
    [ "$(q "$db" "select count(distinct run_id) from results where run_id in (select id from runs where status='ok')")" = "$n_ok" ] ||
        fail "$db: results of the ok runs lost"
}
sweep8="--plugin cpu_ref --model zamba-tiny --seq 4,5,6,7,8,9,10,11 --gen 2 --reps 1 --warmup 0 --quiet"
# at open: the schema alone does not fit
# shellcheck disable=SC2086
limited 32 "$tmp/full.db" $tiny
rc=$?
[ $rc != 0 ] || fail "full disk at open: zbench exited 0"
[ "$(wc -l <"$tmp/err")" = 1 ] || fail "full disk at open: stderr: $(cat "$tmp/err")"
grep -qF "$tmp/full.db" "$tmp/err" && grep -qF "disk" "$tmp/err" ||
    fail "full disk at open: message lacks the file or 'disk': $(cat "$tmp/err")"
grep -qF "committing the schema" "$tmp/err" || grep -qF "taking the write lock" "$tmp/err" ||
    fail "full disk at open: it failed later than opening: $(cat "$tmp/err")"
# mid-sweep, isolated (the default for 8 runs) and in one process
# shellcheck disable=SC2086
limited 320 "$tmp/full-iso.db" $sweep8
check_full_mid_sweep $? "$tmp/full-iso.db" 8
# shellcheck disable=SC2086
limited 320 "$tmp/full-one.db" $sweep8 --no-isolate
check_full_mid_sweep $? "$tmp/full-one.db" 8
# A real full file system, where mounting is allowed (root, outside a
# container that forbids it): a 256 KiB tmpfs.
mnt="$tmp/mnt"
mkdir -p "$mnt"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=256k zbench-full "$mnt" 2>/dev/null; then
    # shellcheck disable=SC2086
    $zb $sweep8 --db "$mnt/full.db" >/dev/null 2>"$tmp/err"
    check_full_mid_sweep $? "$mnt/full.db" 8
    grep -qF "full" "$tmp/err" || fail "full tmpfs: message does not say the disk is full: $(cat "$tmp/err")"
    umount "$mnt" || fail "could not unmount $mnt"
else
    echo "recorder_faults: full tmpfs case skipped (mounting is not permitted here); the file size limit cases ran"
fi

# --- and a good file still works after all that ---------------------------
# shellcheck disable=SC2086
$zb $tiny --db "$tmp/ok.db" >/dev/null || fail "a run on a fresh database failed"
[ "$(sqlite3 -batch -noheader "$tmp/ok.db" "select status from v_summary")" = ok ] || fail "fresh run not ok"

[ $fails = 0 ] && echo "recorder_faults: all passed"
exit $((fails > 0))
