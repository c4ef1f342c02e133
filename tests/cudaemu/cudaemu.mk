# The CUDA backend on the CPU execution engine (tests/cudaemu/): included by GNUmakefile
# for `make ... CUDA_EMU=1`, in build-cudaemu/. kernels/cuda/*.c (the real host code)
# link against the engine's CUDA runtime and cuBLASLt instead of NVIDIA's, the .cu files
# (the real device code) are compiled by clang++ with device.h and SanitizerCoverage's
# load/store callbacks (the shared-memory checks), and a one-rank libnccl.so.2 sits on
# the program's run path. The headers are the CUDA toolkit's (its include folder:
# CUDA_HOME, else nvcc's, else /usr/local/cuda); without them `make check CUDA_EMU=1`
# prints one SKIP line.

CUDA_HOME ?= $(or $(if $(NVCC),$(realpath $(shell $(NVCC) -dryrun -x cu -c /dev/null -o /dev/null 2>&1 | \
               sed -n 's/^\#\$$ TOP=//p' | head -n 1))),/usr/local/cuda)
EMU_INC := $(CUDA_HOME)/include
EMU_HEADERS := $(wildcard $(EMU_INC)/cuda_runtime_api.h $(EMU_INC)/cublasLt.h)
EMU_ARCH := $(shell uname -m)

ifeq ($(words $(EMU_HEADERS))$(EMU_ARCH),2x86_64)
EMU := $(BUILD)/cudaemu
EMU_ENGINE := runtime memory scheduler racecheck report cublaslt
EMU_ENGINE_OBJS := $(EMU_ENGINE:%=$(BUILD)/tests/cudaemu/%.o) $(EMU)/fiber_x86_64.o
CUDA_HOST_SRCS := $(wildcard kernels/cuda/*.c)
LIB_OBJS += $(CUDA_HOST_SRCS:%.c=$(BUILD)/%.o) $(EMU_ENGINE_OBJS) $(EMU)/module_image.o
BASE_CFLAGS += -DPGOLF_CUDA -DPGOLF_CUDA_EMU
$(CUDA_HOST_SRCS:%.c=$(BUILD)/%.o) $(EMU_ENGINE:%=$(BUILD)/tests/cudaemu/%.o) \
    $(BUILD)/tests/cudaemu/test_engine.o: BASE_CFLAGS += -isystem $(EMU_INC) \
    -DPGOLF_CUDA_EMBEDDED -DPGOLF_CUDA_SM=90
# The scheduler and the shared-memory checks are the engine's hot loop, not code under
# test: optimized, without instrumentation, told that the device code runs under ASan.
$(BUILD)/tests/cudaemu/scheduler.o $(BUILD)/tests/cudaemu/racecheck.o: CFLAGS += -O2 \
    -fno-sanitize=address,undefined -DPG_EMU_ASAN
PKG_LIBS += -Wl,-rpath,$(abspath $(EMU)/lib)
LINK := $(CXX)

# Device code: each module_NAME.cpp includes its .cu files, then the table of kernels
# that kernel_list.sh lists from the same file preprocessed (NAME_kernels.inc).
EMU_DEVICE_FLAGS := -std=c++17 $(CFLAGS) -fsanitize-coverage=edge,trace-loads,trace-stores \
                    -Wall -Wextra -Werror -I. -I$(EMU) -include tests/cudaemu/device.h
EMU_DEVICE_DEPS := tests/cudaemu/device.h tests/cudaemu/engine.h tests/cudaemu/registry.h \
                   tests/cudaemu/kernel_list.sh $(wildcard kernels/cuda/*.cu kernels/cuda/*.cuh) \
                   kernels/cuda/sizes.h tests/cudaemu/checks.cu
$(EMU)/%_kernels.inc: tests/cudaemu/module_%.cpp $(EMU_DEVICE_DEPS)
	@mkdir -p $(dir $@)
	$(CXX) $(EMU_DEVICE_FLAGS) -DPG_EMU_LISTING -E $< | tests/cudaemu/kernel_list.sh > $@.tmp
	mv $@.tmp $@
$(EMU)/module_%.o: tests/cudaemu/module_%.cpp $(EMU)/%_kernels.inc $(EMU_DEVICE_DEPS)
	$(CXX) $(EMU_DEVICE_FLAGS) -c $< -o $@

# The "image" kernels/cuda/module.c loads: it names the engine module (runtime.c).
$(EMU)/module.image:
	@mkdir -p $(dir $@)
	printf 'pgolf cudaemu module: pgolf\000' > $@
$(EMU)/module_image.o: kernels/cuda/module_image.S $(EMU)/module.image
	$(CC) -c -DPG_CUDA_MODULE_FILE='"$(EMU)/module.image"' $< -o $@
$(EMU)/fiber_x86_64.o: tests/cudaemu/fiber_x86_64.S
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@
$(EMU)/lib/libnccl.so.2: tests/cudaemu/nccl.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O1 -g -shared -fPIC -isystem $(EMU_INC) $(WARN) -o $@ $<
# The module is found through its section, not a symbol: linked by name, not from the
# archive (which would leave it out).
$(PGOLF) $(BUILD)/run_tests: $(EMU)/module_pgolf.o | $(EMU)/lib/libnccl.so.2

$(EMU)/test_engine: $(BUILD)/tests/cudaemu/test_engine.o $(EMU_ENGINE_OBJS) $(EMU)/module_checks.o
	$(LINK) $(LDFLAGS) -o $@ $^ -lm

check: $(EMU)/test_engine $(PGOLF) $(BUILD)/run_tests $(EMU)/lib/libnccl.so.2
	$(EMU)/test_engine $(EMU)/lib/libnccl.so.2
	tests/cudaemu/check_backend.sh $(PGOLF) $(BUILD)/run_tests
else
check:
	@echo "SKIP: make check CUDA_EMU=1: $(if $(filter x86_64,$(EMU_ARCH)),no CUDA toolkit headers under $(EMU_INC) (set CUDA_HOME),the engine's fibers are x86-64 only, not $(EMU_ARCH))"
endif
