# zbench build. Include and library paths come from the environment
# (CPATH, LIBRARY_PATH), which gcc reads by itself; CUDA parts build when
# nvcc is found (on PATH or in /usr/local/cuda).
#
#   make              zbench and every plugin
#   make run          install missing Debian packages, build, run the main job
#   make test         unit + end-to-end tests; cpu_ref golden checks under
#                     valgrind; everything again under ASan+UBSan; each
#                     parser fuzzed for TEST_FUZZ_SECONDS (what CI runs)
#   make fuzz         the parsers fuzzed for FUZZ_SECONDS each (longer runs)
#   make test-gpu     GPU tests (each skips, saying so, without a GPU)
#   make sanitize-gpu GPU tests and verify under compute-sanitizer's four tools
#   make bench-kernels  per-kernel timings against the roofline
#   make test-trace   the traced tiny run on the GPU (tests/gpu/trace_check.sh)

BUILD     ?= build
CC        ?= gcc
NVCC      ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA_HOME ?= $(if $(NVCC),$(patsubst %/bin/nvcc,%,$(NVCC)),/usr/local/cuda)
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)

WARN      := -Wall -Wextra -Werror
CFLAGS    ?= -O2 -g
# -ffp-contract=off: no fused multiply-adds behind our back, so the reference
# computes the same on every compiler and synthetic weights match the GPU's
ZB_CFLAGS := -std=c11 $(WARN) -ffp-contract=off -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
             -Iplugins -Ireference -Ibench -Ireports -DZB_GIT_COMMIT='"$(GIT_COMMIT)"' $(SAN)
LDLIBS    := -lsqlite3 -lcjson -lm -ldl -lpthread
TEST_LIBS := -lcmocka

# ---------------------------------------------------------------- sources
BENCH_SRC     := $(wildcard bench/*.c)
BENCH_LIB_SRC := $(filter-out bench/main.c,$(BENCH_SRC))
REF_SRC       := $(wildcard reference/*.c)
# reports and comparisons (zbench report / compare): part of the driver
REPORT_SRC    := $(wildcard reports/*.c)
TEST_SRC      := $(wildcard tests/test_*.c)
TEST_PLUGIN_SRC := $(wildcard tests/plugins/*.c)

BENCH_OBJ     := $(BENCH_SRC:%.c=$(BUILD)/obj/%.o)
BENCH_LIB_OBJ := $(BENCH_LIB_SRC:%.c=$(BUILD)/obj/%.o)
REF_OBJ       := $(REF_SRC:%.c=$(BUILD)/pic/%.o)
REPORT_OBJ    := $(REPORT_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN      := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_PLUGINS  := $(TEST_PLUGIN_SRC:tests/plugins/%.c=$(BUILD)/tests/plugins/libzb_%.so)
FUZZ_TARGETS  := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
REPLAY_BIN    := $(FUZZ_TARGETS:%=$(BUILD)/tests/fuzz/replay_%)

PLUGINS := $(BUILD)/plugins/libzb_cpu_ref.so

# CUPTI (the tracer behind --trace): its headers decide whether the tracer's
# unit test builds; the tracer itself also needs nvcc (the CUDA plugins)
CUPTI_H      := $(firstword $(wildcard $(CUDA_HOME)/include/cupti.h $(CUDA_HOME)/extras/CUPTI/include/cupti.h))
CUPTI_INCDIR := $(patsubst %/cupti.h,%,$(CUPTI_H))
CUPTI_LIBDIR := $(patsubst %/,%,$(dir $(firstword $(wildcard $(CUDA_HOME)/lib64/libcupti.so \
                $(CUDA_HOME)/extras/CUPTI/lib64/libcupti.so))))
TRACER_SRC   := $(wildcard bench/tracer/*.c)
TRACER_OBJ   := $(TRACER_SRC:%.c=$(BUILD)/pic/%.o)
TRACER_CORE  := bench/tracer/tracer_core.c bench/tracer/tracer_records.c
TRACER       :=
TRACER_TEST  := $(if $(CUPTI_H),$(BUILD)/tests/test_tracer)

# ------------------------------------------------------------------- CUDA
# The CUDA engine's 16-bit storage format (weights and activations between
# kernels): f16, the default, or bf16. bf16 cannot meet verify's 3e-2 on the
# Zamba fixtures (docs/PERF.md, "Which tensors must stay above bf16"). The
# objects do not record it: build the other one in its own BUILD directory.
ZB_HALF ?= f16
ifeq ($(ZB_HALF),bf16)
ZB_HALF_DEF := -DZB_HALF_BF16
else ifeq ($(ZB_HALF),f16)
ZB_HALF_DEF :=
else
$(error ZB_HALF must be f16 or bf16, not '$(ZB_HALF)')
endif
ifneq ($(NVCC),)
CUDA_ARCH   ?= -gencode=arch=compute_90,code=sm_90
# the kernels that use wgmma need the architecture-specific target (sm_90a,
# whose code runs on compute capability 9.0 only; their launchers check)
CUDA_ARCH_WGMMA ?= -gencode=arch=compute_90a,code=sm_90a
NVCC_BASE   := -std=c++17 -O3 -Xcompiler -fPIC,-fvisibility=hidden,-Wall,-Wextra,-Werror \
               -Werror all-warnings -lineinfo -Iplugins -Ireference -Ikernels -Itests/gpu $(ZB_HALF_DEF)
NVCC_FLAGS  := $(NVCC_BASE) $(CUDA_ARCH)
WGMMA_OBJ   := $(BUILD)/cuda/kernels/attention_wgmma.o $(BUILD)/cuda/kernels/attention_wgmma_pair.o \
               $(BUILD)/cuda/kernels/attention_wgmma_dsplit.o
$(WGMMA_OBJ): NVCC_FLAGS := $(NVCC_BASE) $(CUDA_ARCH_WGMMA)
CUDA_LIBS   := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart -lstdc++
KERNEL_SRC  := $(wildcard kernels/*.cu)
KERNEL_OBJ  := $(KERNEL_SRC:%.cu=$(BUILD)/cuda/%.o)
CCOMMON_SRC := $(wildcard plugins/cuda_common/*.c)
CCOMMON_OBJ := $(CCOMMON_SRC:%.c=$(BUILD)/pic/%.o)
GPU_TEST_SRC := $(wildcard tests/gpu/*.cu)
GPU_TEST_BIN := $(GPU_TEST_SRC:tests/gpu/%.cu=$(BUILD)/tests/gpu/%)
CUDA_PLUGIN_NAMES := $(notdir $(patsubst %/,%,$(dir $(wildcard plugins/cuda_*/entry.c))))
PLUGINS     += $(CUDA_PLUGIN_NAMES:%=$(BUILD)/plugins/libzb_%.so)
ZB_CFLAGS   += -DZB_HAVE_CUDA_HEADERS -isystem $(CUDA_HOME)/include -Ikernels $(ZB_HALF_DEF)
TRACER      := $(if $(and $(CUPTI_H),$(CUPTI_LIBDIR)),$(BUILD)/libzb_tracer.so)
endif

.PHONY: all run test test-unit test-cli test-asan test-valgrind test-fuzz fuzz test-gpu sanitize-gpu test-trace \
        bench-kernels gpu-test-bins test-build-bf16 clean deps deps-test
# keep every object: the CUDA plugins' objects are otherwise deleted as intermediates
.SECONDARY:
all: $(BUILD)/zbench $(PLUGINS) $(TRACER)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ZB_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ZB_CFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/zbench: $(BENCH_OBJ) $(REPORT_OBJ)
	$(CC) $(CFLAGS) $(SAN) -rdynamic $^ -o $@ $(LDLIBS)

$(BUILD)/plugins/libzb_cpu_ref.so: $(BUILD)/pic/plugins/cpu_ref/cpu_ref.o $(REF_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -shared $^ -o $@ -lm

# the CUPTI tracer: dlopened by zbench for --trace, so zbench itself never
# links CUPTI (and runs where there is no CUDA)
$(TRACER_OBJ): ZB_CFLAGS += -isystem $(CUPTI_INCDIR)
$(BUILD)/libzb_tracer.so: $(TRACER_OBJ)
	$(CC) $(CFLAGS) $(SAN) -shared $^ -o $@ -L$(CUPTI_LIBDIR) -Wl,-rpath,$(CUPTI_LIBDIR) -lcupti -lstdc++ -lpthread

# the tracer's CUPTI-free core and record decoding, without a GPU
$(BUILD)/tests/test_tracer: tests/tracer/test_tracer.c $(TRACER_CORE)
	@mkdir -p $(dir $@)
	$(CC) $(ZB_CFLAGS) -isystem $(CUPTI_INCDIR) -Ibench/tracer $(CFLAGS) -Itests $^ -o $@ -lcmocka -lstdc++ -lpthread

ifneq ($(NVCC),)
$(BUILD)/cuda/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -MMD -MP -c $< -o $@

$(BUILD)/plugins/libzb_%.so: $(BUILD)/pic/plugins/%/entry.o $(CCOMMON_OBJ) $(KERNEL_OBJ) $(REF_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared $^ -o $@ $(CUDA_LIBS) -lm

$(BUILD)/tests/gpu/%: tests/gpu/%.cu $(KERNEL_OBJ) $(REF_OBJ)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) $^ -o $@ -lcublasLt -lcublas

test-gpu: all $(GPU_TEST_BIN)
	@tests/run_gpu_tests.sh $(BUILD)

sanitize-gpu: all $(GPU_TEST_BIN)
	@tests/sanitize_gpu.sh $(BUILD)

test-trace: all
	@sh tests/gpu/trace_check.sh $(BUILD)

bench-kernels: $(GPU_TEST_BIN)
	@for t in $(GPU_TEST_BIN); do $$t --bench || exit 1; done

gpu-test-bins: $(GPU_TEST_BIN)

# The other 16-bit format keeps compiling: the CUDA plugins and GPU tests
# built (not run) with ZB_HALF=bf16 into their own directory.
test-build-bf16:
	$(MAKE) --no-print-directory BUILD=$(BUILD)-bf16 ZB_HALF=bf16 all gpu-test-bins
	@echo "the ZB_HALF=bf16 build compiles and links ($(BUILD)-bf16)"
else
test-gpu sanitize-gpu bench-kernels test-trace gpu-test-bins test-build-bf16:
	@echo "SKIP $@: no nvcc on this machine, CUDA code was not built"
endif

# ------------------------------------------------------------------ tests
# -MMD: a test binary also depends on the headers its source includes
# (which the .d file adds to $^, hence the filter)
$(BUILD)/tests/%: tests/%.c $(BENCH_LIB_OBJ) $(REPORT_OBJ) $(REF_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ZB_CFLAGS) $(CFLAGS) -MMD -MP -Itests $(filter %.c %.o,$^) -o $@ $(LDLIBS) $(TEST_LIBS)

# the trace tests drive the tracer's CUPTI-free core as a stand-in for CUPTI
$(BUILD)/tests/test_trace: tests/test_trace.c bench/tracer/tracer_core.c $(BENCH_LIB_OBJ) $(REF_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ZB_CFLAGS) $(CFLAGS) -Itests -Ibench/tracer $^ -o $@ $(LDLIBS) $(TEST_LIBS)

$(BUILD)/tests/plugins/libzb_%.so: tests/plugins/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ZB_CFLAGS) $(CFLAGS) -fPIC -shared $< -o $@

# a fuzz target without libFuzzer: replays corpus and regression inputs
$(BUILD)/tests/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(BENCH_LIB_OBJ) $(REF_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ZB_CFLAGS) $(CFLAGS) $^ -o $@ $(LDLIBS)

# GPU test binaries are compiled (not run) here, so CI catches their breakage
test-unit: all $(TEST_BIN) $(TEST_PLUGINS) $(REPLAY_BIN) $(GPU_TEST_BIN) $(TRACER_TEST)
	@tests/run_tests.sh $(BUILD)

test-asan:
	$(MAKE) --no-print-directory BUILD=build-asan NVCC= \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" test-unit

# valgrind's memcheck on the cpu_ref golden checks (the plain build: valgrind
# and ASan do not mix)
test-valgrind: all
	@tests/run_valgrind.sh $(BUILD)

# ------------------------------------------------------------------ fuzzing
# libFuzzer needs clang; the parsers and what they call are rebuilt with
# coverage and ASan+UBSan in their own tree.
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 600
TEST_FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LIB_SRC := bench/safetensors.c bench/shard_index.c bench/model_config.c bench/weight_specs.c bench/zb_util.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN     := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(ZB_CFLAGS) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(ZB_CFLAGS) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@ -lcjson -lm

fuzz: $(FUZZ_BIN)
	@tests/fuzz/run_fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

test-fuzz: $(FUZZ_BIN)
	@tests/fuzz/run_fuzz.sh $(FUZZ_BUILD) $(TEST_FUZZ_SECONDS)

test: deps-test
	$(MAKE) --no-print-directory test-unit
	$(MAKE) --no-print-directory test-build-bf16
	$(MAKE) --no-print-directory test-valgrind
	$(MAKE) --no-print-directory test-asan
	$(MAKE) --no-print-directory test-fuzz

run: deps
	$(MAKE) --no-print-directory all
	$(BUILD)/zbench $(ARGS)

deps:
	@bench/ensure-deps.sh run
deps-test:
	@bench/ensure-deps.sh test

-include $(shell find $(BUILD) $(FUZZ_BUILD) -name '*.d' 2>/dev/null)

clean:
	rm -rf $(BUILD) $(BUILD)-bf16 build-asan $(FUZZ_BUILD)
