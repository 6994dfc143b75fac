# The two commands of the README: `make demo` (deps -> build -> train Fashion-MNIST for
# one epoch) and `make test` (deps -> configure -> build -> unit and integration tests). BUILD_DIR and CMAKE_ARGS may be overridden.
BUILD_DIR ?= build
CMAKE_ARGS ?=
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test unit integration demo bench clean

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

# One epoch of the reference Fashion-MNIST network on the full data set, with live
# progress; checkpoints and metrics land in runs/demo.
demo: build
	$(BUILD_DIR)/core/train/edbp-train configs/fashion_mnist.yaml --epochs 1 \
	  --out-dir runs/demo --metrics-jsonl runs/demo/metrics.jsonl --progress-every 10

bench: build
	$(BUILD_DIR)/bench/edbp_train_step_bench --config configs/fashion_mnist.yaml --iters 9

clean:
	rm -rf $(BUILD_DIR)
