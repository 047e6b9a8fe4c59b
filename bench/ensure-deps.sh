#!/bin/sh
# Installs the Debian packages zbench needs, when they are missing.
#   ensure-deps.sh run    build and run: compiler, SQLite, cJSON, gnuplot (zbench report's charts)
#   ensure-deps.sh test   also the test tools: cmocka, valgrind, sqlite3
# Presence is judged by compiling against the headers (so CPATH and
# LIBRARY_PATH setups count), not by asking dpkg. As root, missing packages
# are installed with apt-get; otherwise the exact command is printed and the
# script fails.
set -eu
mode=${1:-run}
CC=${CC:-gcc}
missing=""

need_lib() { # header, link flag, package[, headers it needs first]
    if ! printf '%b#include <%s>\nint main(void){return 0;}\n' "${4:-}" "$1" |
        "$CC" -x c - -o /dev/null "$2" >/dev/null 2>&1; then
        missing="$missing $3"
    fi
}
need_cmd() { # command, package
    command -v "$1" >/dev/null 2>&1 || missing="$missing $2"
}

need_cmd make make
need_cmd "$CC" gcc
if command -v "$CC" >/dev/null 2>&1; then
    need_lib sqlite3.h -lsqlite3 libsqlite3-dev
    need_lib cjson/cJSON.h -lcjson libcjson-dev
fi
need_cmd git git
# zbench report draws its charts with gnuplot (the SVG terminal: -nox is enough)
need_cmd gnuplot gnuplot-nox
if [ "$mode" = test ]; then
    command -v "$CC" >/dev/null 2>&1 && need_lib cmocka.h -lcmocka libcmocka-dev \
        '#include <stdarg.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <setjmp.h>\n'
    need_cmd valgrind valgrind
    # the fuzz targets: clang with libFuzzer, whose runtime Debian ships
    # apart from the compiler
    if ! command -v clang >/dev/null 2>&1; then
        missing="$missing clang libclang-rt-dev"
    elif ! printf '#include <stddef.h>\nint LLVMFuzzerTestOneInput(const char *d, size_t n){(void)d;(void)n;return 0;}\n' |
        clang -x c - -fsanitize=fuzzer,address,undefined -o /dev/null >/dev/null 2>&1; then
        missing="$missing libclang-rt-dev"
    fi
    need_cmd sqlite3 sqlite3
fi

[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "zbench: installing missing packages:$missing" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
    exit 0
fi
echo "zbench: missing packages:$missing" >&2
echo "install them with: sudo apt-get install -y$missing" >&2
exit 1
