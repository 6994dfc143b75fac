# The two commands of the README: `make demo` (deps -> build -> train Fashion-MNIST for
# one epoch) and `make test` (deps -> configure -> build -> unit and integration tests). BUILD_DIR and CMAKE_ARGS may be overridden.
BUILD_DIR ?= build
CMAKE_ARGS ?=
# --build: only the packages of the build (the Dockerfile's build stage).
DEPS_ARGS ?=
JOBS ?= $(shell nproc)

.PHONY: all deps configure build test unit integration mpi python deploy lint tidy gpu browser slurm demo bench fuzz image-test clean

all: build

deps:
	./scripts/install-deps.sh $(DEPS_ARGS)

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

unit: build
	cd $(BUILD_DIR) && ctest -L unit --output-on-failure -j $(JOBS)

integration: build
	cd $(BUILD_DIR) && ctest -L integration --output-on-failure

# The deployment files by structure (ldd, shellcheck, yamllint on the real build), and
# deploy/k8s rendered by `kubectl kustomize` (skipped, saying why, without kubectl).
deploy: build
	cd $(BUILD_DIR) && ctest -L deploy --output-on-failure
	@grep -h '^SKIPPED: ' $(BUILD_DIR)/Testing/Temporary/LastTest.log || true

# The habits: clang-format, documentation references (seconds).
lint: build
	cd $(BUILD_DIR) && ctest -L lint --output-on-failure

# clang-tidy over every tracked .cc file (minutes; .ci/run runs it after the tests).
tidy: build
	scripts/check-tidy.sh $(BUILD_DIR)

# CPU vs CUDA comparisons; without a GPU ctest lists them as skipped, saying why.
gpu: build
	cd $(BUILD_DIR) && ctest -L gpu --output-on-failure
	@grep -h '^\[  SKIPPED \] all gpu tests' $(BUILD_DIR)/Testing/Temporary/LastTest.log || true

# The dashboard in headless Chromium (tests/browser); ctest shows it skipped, saying
# why, where Chromium or the dashboard is missing.
browser: build
	cd $(BUILD_DIR) && ctest -L browser --output-on-failure
	@grep -h '^SKIPPED: ' $(BUILD_DIR)/Testing/Temporary/LastTest.log || true

# Data parallel over MPI (issue 18): the collectives and W=2 against W=1 under mpiexec;
# also part of `integration`.
mpi: build
	cd $(BUILD_DIR) && ctest -L mpi --output-on-failure

# The Python package against a real server (issue 24); also part of `integration`.
python: build
	cd $(BUILD_DIR) && ctest -L python --output-on-failure

# edbp-server --executor slurm on a one-node Slurm cluster each test starts
# (scripts/slurm-cluster.sh; issue 18); skipped, saying why, without root, slurm-wlm or
# munge. Slurm's time limit (90 s to strike) is under `slow`: ctest -L slurm runs it.
slurm: build
	cd $(BUILD_DIR) && ctest -L slurm -LE slow --output-on-failure
	@grep -h 'Skipped$$' -A1 $(BUILD_DIR)/Testing/Temporary/LastTest.log | head -2 || true

test: lint unit integration deploy gpu browser slurm

# The CPU image built with rootful podman and run end to end (issue 21; root, Debian 12,
# tens of minutes: not part of `make test`): scripts/image-test.sh, README "Deployment".
image-test:
	scripts/image-test.sh $(BUILD_DIR)

# The service end to end: a server on a free loopback port with a temporary data dir,
# the reference Fashion-MNIST network submitted for one epoch and followed to the end.
demo: build
	scripts/demo.sh $(BUILD_DIR)

# The libFuzzer targets (fuzz/, README "Fuzzing"): a clang build with ASan and UBSan in
# FUZZ_BUILD_DIR, then each target FUZZ_SECONDS on a copy of its seed corpus; fails on
# any crash, leak, timeout or out-of-memory, naming the reproducer.
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz: deps
	JOBS=$(JOBS) fuzz/run.sh $(FUZZ_BUILD_DIR) $(FUZZ_SECONDS)

bench: build
	$(BUILD_DIR)/bench/edbp_train_step_bench --config configs/fashion_mnist.yaml --iters 9

clean:
	rm -rf $(BUILD_DIR)
