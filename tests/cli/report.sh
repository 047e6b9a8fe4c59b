#!/bin/sh
# End-to-end tests of `zbench report` and `zbench compare`: a tiny cpu_ref
# sweep (zamba-tiny and llama2-tiny over a few --seq values) into a
# temporary database, the report's files and their contents, the page
# rendered by headless Chromium (skipped, saying so, without Chromium), the
# report without gnuplot, and compare's exit codes on copies of the
# database with a known regression and with the repetitions shuffled.
# Usage: report.sh BUILD_DIR
set -u
build=${1:-build}
zb="$build/zbench"
case "$zb" in /*) ;; *) zb="./$zb" ;; esac # runnable with PATH emptied
export ZBENCH_PLUGIN_PATH="$build/plugins"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL report: $*" >&2; fails=$((fails + 1)); }
q() { sqlite3 -batch -noheader "$1" "$2"; }

# --- a tiny sweep --------------------------------------------------------
db="$tmp/sweep.db"
$zb --plugin cpu_ref --model zamba-tiny,llama2-tiny --seq 8,32,96 --gen 8 --reps 5 --warmup 1 --quiet \
    --tag sweep --db "$db" >/dev/null || fail "the sweep failed"
[ "$(q "$db" "select count(*) from runs where status='ok'")" = 6 ] || fail "6 ok runs expected"

# --- the report ----------------------------------------------------------
out="$tmp/out"
$zb report --db "$db" --tag sweep -o "$out" >"$tmp/stdout" 2>"$tmp/stderr"
rc=$?
[ $rc = 0 ] || fail "report exited $rc: $(cat "$tmp/stderr")"
grep -q "6 runs (6 ok)" "$tmp/stdout" || fail "report's summary line: $(cat "$tmp/stdout")"
charts="memory memory_in_use memory_7b decode_latency decode_throughput prefill_time prefill_throughput
    pct_of_floor kernels"
for f in index.html report.md; do [ -s "$out/$f" ] || fail "$f missing or empty"; done
for c in $charts; do [ -f "$out/$c.csv" ] || fail "$c.csv missing"; done

# CSV fields without their quotes (a device name may hold a comma), for awk
unq() { sed 's/"[^"]*"/Q/g' "$1"; }
# every CSV: the header's column count on every row, numbers where numbers go
for c in $charts; do
    [ -f "$out/$c.csv" ] || continue
    unq "$out/$c.csv" | awk -F, -v name="$c" '
        NR == 1 { n = NF; next }
        NF != n { print name ": row " NR " has " NF " fields, the header " n; bad = 1 }
        name != "kernels" && ($(n - 1) != "" && $(n - 1) !~ /^[0-9.e+-]+$/ || $n !~ /^-?[0-9.e+-]+$/) {
            print name ": row " NR " is not numeric: " $0; bad = 1 }
        END { exit bad }' || fail "$c.csv is malformed"
done
[ "$(head -1 "$out/memory.csv")" = "model,plugin,device,dtype,batch,quantity,source,tokens,bytes" ] ||
    fail "memory.csv header"
# measured memory points at every run's capacity (seq + gen) for both models
for m in zamba-tiny llama2-tiny; do
    for cap in 16 40 104; do
        grep -q "^$m,cpu_ref,.*,total,measured,$cap," "$out/memory.csv" || fail "$m: no measured total at $cap tokens"
    done
done
# the measured KV + state in use equals the analytic line where both exist
# (cpu_ref allocates exactly what bench/analytic.c predicts)
unq "$out/memory_in_use.csv" | awk -F, 'NR > 1 { key = $1 "," $8; if ($7 == "measured") m[key] = $9; else a[key] = $9 }
    END { n = 0; for (k in m) if (k in a) { n++; if (m[k] != a[k]) { print "at " k ": " m[k] " vs " a[k]; bad = 1 } }
          if (n < 2) { print "no common points"; bad = 1 }; exit bad }' ||
    fail "measured memory in use is off the analytic line"
# decode steps: positive times, at the positions the sweep produced
unq "$out/decode_latency.csv" | awk -F, 'NR > 1 && $7 == "measured" { if ($9 <= 0) bad = 1; p = $8
        if (!((p > 8 && p <= 16) || (p > 32 && p <= 40) || (p > 96 && p <= 104))) { print "position " p; bad = 1 } }
    END { exit bad }' || fail "decode_latency.csv holds impossible points"
# the crossover, whichever way this machine's timings fall
grep -Eq "zamba-tiny (beats|does not beat) llama2-tiny in decode latency" "$out/report.md" ||
    fail "report.md lacks the decode latency crossover statement"
grep -Eq "zamba-tiny (beats|does not beat) llama2-tiny in memory" "$out/report.md" ||
    fail "report.md lacks the memory crossover statement"
grep -q "no traced runs" "$out/report.md" || fail "the kernel section should say there are no traced runs"

if command -v gnuplot >/dev/null 2>&1; then
    for c in memory memory_in_use memory_7b decode_latency decode_throughput prefill_time prefill_throughput \
        pct_of_floor; do
        [ -s "$out/$c.svg" ] || fail "$c.svg not drawn"
        grep -q "id=\"$c\"" "$out/index.html" || fail "$c not in index.html"
    done
    [ "$(grep -c '<svg' "$out/index.html")" = 8 ] || fail "index.html should inline 8 charts (no kernels)"
    grep -q '<?xml' "$out/index.html" && fail "an XML prolog inside index.html"
else
    echo "SKIP report: gnuplot not installed, the pictures are not checked (apt-get install gnuplot-nox)"
fi

# --- the page in a browser: a screenshot that is not blank -------------------
chrome=""
for c in chromium chromium-browser google-chrome; do
    command -v "$c" >/dev/null 2>&1 && chrome=$c && break
done
if [ -z "$chrome" ]; then
    echo "SKIP report: chromium not installed, the rendered page is not checked (apt-get install chromium)"
elif ! command -v gnuplot >/dev/null 2>&1; then
    echo "SKIP report: no screenshot check without gnuplot's charts"
else
    # headless Chromium as root needs --no-sandbox; its own profile keeps $HOME clean
    shoot() { timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$tmp/chrome" "$@" 2>/dev/null; }
    shoot --window-size=1200,2000 --screenshot="$tmp/shot.png" "file://$out/index.html" >/dev/null
    if [ ! -s "$tmp/shot.png" ]; then
        fail "chromium wrote no screenshot"
    else
        # count the pixels of the screenshot in the browser itself: a page
        # that only loads it as a data: URL onto a canvas (no image tools
        # needed); ink = not white, orange = the second series' colour,
        # which only the charts use
        {
            printf '<!DOCTYPE html><html><body><pre id="r">pending</pre><script>\n'
            printf 'var im = new Image();\nim.onload = function () {\n'
            printf '  var c = document.createElement("canvas"); c.width = im.width; c.height = im.height;\n'
            printf '  var g = c.getContext("2d"); g.drawImage(im, 0, 0);\n'
            printf '  var d = g.getImageData(0, 0, c.width, c.height).data, ink = 0, orange = 0;\n'
            printf '  for (var i = 0; i < d.length; i += 4) {\n'
            printf '    if (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200) ink++;\n'
            printf '    if (Math.abs(d[i] - 213) < 40 && Math.abs(d[i + 1] - 94) < 40 && d[i + 2] < 60) orange++;\n'
            printf '  }\n  document.getElementById("r").textContent =\n'
            printf '    "ink " + ink + " orange " + orange + " end";\n};\n'
            printf 'im.onerror = function () { document.getElementById("r").textContent = "unreadable"; };\n'
            printf 'im.src = "data:image/png;base64,'
            base64 -w0 "$tmp/shot.png"
            printf '";\n</script></body></html>\n'
        } >"$tmp/count.html"
        result=$(shoot --virtual-time-budget=10000 --dump-dom "file://$tmp/count.html" |
            sed -n 's/.*<pre id="r">\([^<]*\)<\/pre>.*/\1/p')
        ink=$(echo "$result" | awk '$1 == "ink" { print $2 }')
        orange=$(echo "$result" | awk '$3 == "orange" { print $4 }')
        if [ -z "$ink" ] || [ -z "$orange" ]; then
            fail "could not count the screenshot's pixels (got '$result')"
        else
            # 1200 x 2000 pixels: text and charts cover well over 1%
            [ "$ink" -gt 24000 ] || fail "the screenshot is blank ($ink non-white pixels)"
            [ "$orange" -gt 200 ] || fail "no chart in the screenshot ($orange pixels of the chart colour)"
        fi
    fi
fi

# --- without gnuplot: everything but the pictures, one line naming the package
nog="$tmp/nog"
PATH=/nonexistent $zb report --db "$db" -o "$nog" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 0 ] || fail "report without gnuplot exited $rc"
[ "$(wc -l <"$tmp/err")" = 1 ] || fail "without gnuplot: expected one line on stderr, got: $(cat "$tmp/err")"
grep -q "gnuplot-nox" "$tmp/err" || fail "without gnuplot: the line should name the package gnuplot-nox"
for c in $charts; do [ -f "$nog/$c.csv" ] || fail "without gnuplot: $c.csv missing"; done
for f in index.html report.md; do [ -s "$nog/$f" ] || fail "without gnuplot: $f is missing"; done
ls "$nog"/*.svg >/dev/null 2>&1 && fail "without gnuplot: pictures appeared"
grep -q "gnuplot is not installed" "$nog/index.html" || fail "without gnuplot: the page does not say why"
grep -Eq "in decode latency" "$nog/report.md" || fail "without gnuplot: the crossover is missing"

# --- bad input: one line, exit 2 ----------------------------------------------
for args in "--db $db" "--db $db -o $tmp/x --runs 999" "--db $db -o $tmp/x --tag nope" "--db $tmp/none.db -o $tmp/x" \
    "--db $db -o $tmp/x --bogus" "--db $db -o $tmp/x --runs 2-1"; do
    # shellcheck disable=SC2086
    $zb report $args >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc = 2 ] || fail "report $args exited $rc, expected 2"
    [ "$(wc -l <"$tmp/err")" = 1 ] || fail "report $args printed $(wc -l <"$tmp/err") lines on stderr"
done
[ -e "$tmp/x" ] && fail "a refused report created its directory"

# --- compare: exit codes on copies with known differences -------------------
# the same runs in both files: nothing differs
$zb compare --db "$db" --db "$db" --baseline all --candidate all --fail-above 0 >"$tmp/same.md" ||
    fail "identical runs must not fail --fail-above 0"
grep -q "0 slower" "$tmp/same.md" || fail "identical runs reported slower"
# the repetitions of every run shuffled (reversed): the same samples in
# another order, which is what noise looks like to a rank test
cp "$db" "$tmp/shuffled.db"
q "$tmp/shuffled.db" "UPDATE results SET wall_ms = (SELECT r2.wall_ms FROM results r2 WHERE r2.run_id = results.run_id
    AND r2.phase = results.phase AND r2.rep = 4 - results.rep)" || fail "shuffling failed"
$zb compare --db "$db" --db "$tmp/shuffled.db" --baseline tag:sweep --candidate tag:sweep --fail-above 0 \
    >"$tmp/shuf.md" || fail "shuffled repetitions were flagged as a regression"
grep -q "0 faster, 0 slower, 12 within noise" "$tmp/shuf.md" || fail "shuffled: $(tail -3 "$tmp/shuf.md")"
# llama2-tiny made 100x slower in the candidate: beyond any noise (tiny
# CPU runs on a busy machine can vary 3x between repetitions)
cp "$db" "$tmp/slow.db"
q "$tmp/slow.db" "UPDATE results SET wall_ms = wall_ms * 100
    WHERE run_id IN (SELECT id FROM runs WHERE model = 'llama2-tiny')"
$zb compare --db "$db" --db "$tmp/slow.db" --baseline all --candidate all --fail-above 50 >"$tmp/slow.md" 2>"$tmp/err"
rc=$?
[ $rc = 1 ] || fail "a 100x regression with --fail-above 50 exited $rc, expected 1"
grep -q "0 faster, 6 slower, 6 within noise" "$tmp/slow.md" || fail "100x slower: $(tail -3 "$tmp/slow.md")"
grep -q "regressions above 50%" "$tmp/err" || fail "the regression is not named on stderr"
$zb compare --db "$db" --db "$tmp/slow.db" --baseline all --candidate all --fail-above 20000 >/dev/null ||
    fail "+9900% is not above --fail-above 20000"
$zb compare --db "$db" --db "$tmp/slow.db" --baseline all --candidate all >/dev/null ||
    fail "without --fail-above compare only reports"
# bad input
for args in "--db $db --baseline all" "--db $db --baseline runs:999 --candidate all" \
    "--db $db --baseline tag:sweep --candidate tag:none" "--db $db --baseline all --candidate all --fail-above -1" \
    "--db $db --baseline sweep --candidate all"; do
    # shellcheck disable=SC2086
    $zb compare $args >/dev/null 2>"$tmp/err"
    rc=$?
    [ $rc = 2 ] || fail "compare $args exited $rc, expected 2"
    [ "$(wc -l <"$tmp/err")" = 1 ] || fail "compare $args printed $(wc -l <"$tmp/err") lines on stderr"
done

[ $fails = 0 ] && echo "report: all checks passed"
[ $fails = 0 ]
