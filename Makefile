# zbench build. Include and library paths come from the environment
# (CPATH, LIBRARY_PATH), which gcc reads by itself; nvcc is used when found.
#
#   make            zbench + plugins (CUDA plugins when nvcc exists)
#   make run        install missing Debian packages, build, run the main job
#   make test       unit and end-to-end tests, then again under ASan+UBSan
#   make test-gpu   GPU tests (skip, saying so, without a GPU)

BUILD    ?= build
CC       ?= gcc
NVCC     ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA_HOME ?= $(if $(NVCC),$(patsubst %/bin/nvcc,%,$(NVCC)),/usr/local/cuda)
GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)

WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -O2 -g
# -ffp-contract=off: no fused multiply-adds behind our back, so the reference
# is the same on every compiler and the synthetic weights match the GPU's
ZB_CFLAGS := -std=c11 $(WARN) -ffp-contract=off -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L \
             -Iplugins -Ireference -Ibench -DZB_GIT_COMMIT='"$(GIT_COMMIT)"' $(SAN)
LDLIBS   := -lsqlite3 -lcjson -lm -ldl -lpthread

BENCH_SRC := $(wildcard bench/*.c)
BENCH_LIB_SRC := $(filter-out bench/main.c,$(BENCH_SRC))
REF_SRC   := $(wildcard reference/*.c)

BENCH_OBJ := $(BENCH_SRC:%.c=$(BUILD)/obj/%.o)
BENCH_LIB_OBJ := $(BENCH_LIB_SRC:%.c=$(BUILD)/obj/%.o)
REF_OBJ   := $(REF_SRC:%.c=$(BUILD)/pic/%.o)

PLUGINS := $(BUILD)/plugins/libzb_cpu_ref.so

.PHONY: all run test test-unit test-asan test-gpu clean deps deps-test
all: $(BUILD)/zbench $(PLUGINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ZB_CFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/pic/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ZB_CFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/zbench: $(BENCH_OBJ)
	$(CC) $(CFLAGS) $(SAN) -rdynamic $^ -o $@ $(LDLIBS)

$(BUILD)/plugins/libzb_cpu_ref.so: $(BUILD)/pic/plugins/cpu_ref/cpu_ref.o $(REF_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -shared $^ -o $@ -lm

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

clean:
	rm -rf $(BUILD) build-asan
