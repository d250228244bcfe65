# The two commands of README.md:
#   make run   install what is missing, build, start a single-node cluster
#   make test  install what is missing, build, run every test (ctest)
BUILD ?= build
JOBS ?= $(shell nproc)
DATA_DIR ?= $(if $(filter 0,$(shell id -u)),/var/lib/berth,$(HOME)/.berth)
LISTEN ?= 127.0.0.1:6443
CTEST_ARGS ?=

.PHONY: setup configure build run test unit integration e2e fuzz clean

setup:
	@bash scripts/setup.sh

configure: setup
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/src/cmd/berth server --data-dir $(DATA_DIR) --listen $(LISTEN)

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 900 -j$(JOBS) $(CTEST_ARGS)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L unit

integration: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L integration

e2e: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L e2e

# libFuzzer targets (clang); run one with e.g. build-fuzz/fuzz/json_patch_fuzz -max_total_time=60
fuzz: setup
	cmake -S . -B build-fuzz -G Ninja -DBERTH_FUZZ=ON -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
	cmake --build build-fuzz -j$(JOBS)

clean:
	rm -rf $(BUILD)
