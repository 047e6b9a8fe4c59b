#!/bin/sh
# GPU tests: each kernel check under tests/gpu, then every CUDA plugin
# through zbench verify on every fixture, then a traced run
# (tests/gpu/trace_check.sh). Without a GPU each says SKIP.
set -u
build=${1:-build}
export ZBENCH_PLUGIN_PATH="$build/plugins"
failed=0
for t in "$build"/tests/gpu/test_*; do
    [ -x "$t" ] || continue
    if ! "$t"; then echo "FAILED: $t" >&2; failed=1; fi
done
if ! nvidia-smi -L >/dev/null 2>&1; then
    echo "SKIP cuda plugin verify: no GPU"
else
    for p in "$build"/plugins/libzb_cuda_*.so; do
        [ -f "$p" ] || continue
        name=$(basename "$p" .so); name=${name#libzb_}
        for f in tests/fixtures/*/; do
            if ! "$build/zbench" verify --plugin "$name" --model "$f"; then failed=1; fi
            if ! "$build/zbench" verify --plugin "$name" --model "$f" --batch 3 --split 5; then failed=1; fi
        done
    done
fi
if ! sh tests/gpu/trace_check.sh "$build"; then failed=1; fi
[ $failed = 0 ] && echo "all GPU tests passed"
exit $failed
