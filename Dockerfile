# edbp-server image: GPU by default, CPU-only with --build-arg BASE=debian:12-slim.
#
#   docker build -t edbp .                                   # CUDA 13 + cuDNN, Ubuntu 24.04
#   docker build -t edbp:cpu --build-arg BASE=debian:12-slim .
#
# The build stage runs what CI runs (scripts/install-deps.sh and the CMake commands of
# `make build`); the runtime stage copies only the directory scripts/collect-runtime.sh
# stages: the binaries and the shared libraries the runtime base lacks
# (tests/deploy/deploy_test.cc checks both with ldd). `make image-test` builds the CPU
# image with podman and runs it end to end (scripts/image-test.sh). See README.md, "Deployment".

# BASE empty: the CUDA images (devel to build, runtime to run). Any other BASE is used
# for both stages.
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-cudnn
ARG BASE=

FROM ${BASE:-${CUDA_IMAGE}-devel-ubuntu24.04} AS build
ENV DEBIAN_FRONTEND=noninteractive
# Compilers are the one thing install-deps.sh leaves to the machine.
RUN apt-get -o DPkg::Lock::Timeout=600 update \
 && apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends \
      g++ make ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# --build: the build's packages only (no test, lint, browser or Slurm tools).
RUN ./scripts/install-deps.sh --build \
 && make build BUILD_DIR=/src/build DEPS_ARGS=--build CMAKE_ARGS="-DEDBP_BUILD_TESTS=OFF" \
 && ./scripts/collect-runtime.sh /src/build /stage

FROM ${BASE:-${CUDA_IMAGE}-runtime-ubuntu24.04} AS runtime
# --build-arg MPI=1 adds Open MPI's mpirun and an SSH server, for the launcher and the
# workers of deploy/k8s/mpijob (303 MB -> 493 MB for the CPU image). The default image has neither
# (edbp-train carries its own libmpi for one-process runs).
ARG MPI=0
RUN if [ "$MPI" = 1 ]; then \
      apt-get -o DPkg::Lock::Timeout=600 update \
   && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y \
        --no-install-recommends openmpi-bin openssh-server openssh-client \
   && rm -rf /var/lib/apt/lists/*; \
    fi
# One layer from the build stage: the staged binaries and libraries, nothing else.
COPY --from=build /stage /opt/edbp
ENV PATH=/opt/edbp/bin:${PATH} \
    LD_LIBRARY_PATH=/opt/edbp/lib
RUN groupadd --system --gid 10001 edbp \
 && useradd --system --uid 10001 --gid edbp --home-dir /data --shell /usr/sbin/nologin edbp \
 && mkdir -p /data /datasets \
 && chown edbp:edbp /data
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# 50051 the API, 50052 grpc.health.v1 alone (plaintext, for probes), 9090 /metrics.
EXPOSE 50051 50052 9090
# A non-loopback --listen needs authentication: give EDBP_AUTH_TOKEN (or
# --auth-token-file) with --tls-cert/--tls-key, or --client-ca, or --insecure.
ENTRYPOINT ["edbp-server"]
CMD ["--listen=0.0.0.0:50051", "--data-dir=/data", "--health-listen=0.0.0.0:50052", \
     "--metrics-listen=0.0.0.0:9090", "--data-roots=/datasets,/usr/share/datasets,/data/datasets"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["edbp-client", "--server=127.0.0.1:50052", "--timeout=3", "health"]
