# The two commands of the README: `make test` (deps -> configure -> build -> tests) and,
# with the trainer, `make demo`. BUILD_DIR and CMAKE_ARGS may be overridden.
BUILD_DIR ?= build
CMAKE_ARGS ?=
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test unit integration clean

all: build

deps:
	./scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

unit: build
	cd $(BUILD_DIR) && ctest -L unit --output-on-failure -j $(JOBS)

integration: build
	cd $(BUILD_DIR) && ctest -L integration --output-on-failure

test: unit integration

clean:
	rm -rf $(BUILD_DIR)
