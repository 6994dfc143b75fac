#!/usr/bin/env bash
# The CPU image built and run for real with rootful podman (issue 21): what the
# structural test (tests/deploy) cannot see — a missing runtime library, a wrong path,
# a broken HEALTHCHECK, permissions — shows up here. Needs root, Debian 12, the Debian
# mirror apt already uses; no container registry (the base image is made locally with
# debootstrap). Takes tens of minutes (the image build compiles the project): not part
# of `make test`; run it (`make image-test`) after changing the Dockerfile, deploy/ or
# what the binaries load.
#
# usage: scripts/image-test.sh [BUILD_DIR]   BUILD_DIR (default build): where the host's
#                                           edbp-client is built (configured if needed)
#   EDBP_IMAGE_STAGES  the stages to run, default all of them, in this order:
#                      setup base build run health stop k8s mpi compose
#   EDBP_IMAGE_KEEP=1  keep the image at the end (the test containers, volumes and the
#                      temporary folder are always removed)
#   EDBP_IMAGE_NO_CACHE=1  build without podman's layer cache (from a clean state)
#   EDBP_IMAGE_MPI=1   build with --build-arg MPI=1 and run stage mpi
#
# Stages:
#   setup    installs podman, buildah, runc, netavark, iptables, podman-compose and
#            debootstrap (Debian packages) and writes the engine settings this kind of
#            machine needs to /etc/containers/containers.conf.d/50-edbp.conf (runc,
#            cgroupfs, file events, netavark, nofile/nproc ulimits); idempotent.
#   base     localhost/debian:12-slim from `debootstrap --variant=minbase bookworm`
#            against the mirror of /etc/apt/sources.list(.d), when missing.
#   build    podman build --format docker (HEALTHCHECK kept) --build-arg
#            BASE=localhost/debian:12-slim -t localhost/edbp:latest; prints its size.
#   run      the server in a container: token + TLS (deploy/gen-certs.sh), a volume on
#            /data, a synthetic data set read-only on /datasets, the API, health and
#            metrics ports on 127.0.0.1. edbp-client on the host submits a small job
#            (data_limit), follows it to SUCCEEDED and downloads its checkpoint. The
#            container runs as uid 10001 and can write only under /data (and /tmp).
#   health   `podman healthcheck run` is healthy; /metrics answers with edbp_ metrics.
#   stop     a longer job; `podman stop` (SIGTERM: the server drains, the job
#            checkpoints) while it runs, `podman start`: the job resumes from its
#            checkpoint and succeeds, the first job and its checkpoint are still there.
#   k8s      the container as deploy/k8s's StatefulSet runs it: the ConfigMap's flags as
#            --flagfile, token and TLS files as Secrets mount them (root:10001, 0440),
#            read-only root, no capabilities, no new privileges: a job to SUCCEEDED.
#   mpi      (EDBP_IMAGE_MPI=1 only) mpirun and sshd in the image; `mpirun -np 2
#            edbp-train` trains one epoch as two ranks.
#   compose  deploy/compose.yaml under podman-compose (its GPU reservation ignored):
#            up, healthy, a job to SUCCEEDED, down.
# Exit status 0 when every stage passed; the summary gives each stage's seconds.
set -euo pipefail

cd "$(dirname "$0")/.."
build_dir=${1:-build}
stages=${EDBP_IMAGE_STAGES:-setup base build run health stop k8s mpi compose}
image=localhost/edbp:latest
base_image=localhost/debian:12-slim
prefix=edbp-image-test
work=$(mktemp -d /tmp/edbp-image-test.XXXXXX)
declare -a summary=()
failed=""
start=$(date +%s)

log() { echo "image-test: $*"; }
fail() {
  echo "image-test: FAIL: $*" >&2
  exit 1
}

cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    # The logs of a failed run outlive it (the build's, the server's, the client's).
    rm -rf /tmp/edbp-image-test-logs
    mkdir -p /tmp/edbp-image-test-logs
    cp "$work"/*.log "$work"/*.json* /tmp/edbp-image-test-logs/ 2>/dev/null || true
    podman logs "$prefix-server" > /tmp/edbp-image-test-logs/server.log 2>&1 || true
    echo "image-test: logs in /tmp/edbp-image-test-logs"
  fi
  podman rm -f -t 0 "$prefix-server" "$prefix-pod" >/dev/null 2>&1 || true
  podman volume rm -f "$prefix-pod-data" >/dev/null 2>&1 || true
  if [ -f "$work/compose.yaml" ]; then
    compose down -v >/dev/null 2>&1 || true
  fi
  podman network rm -f "${prefix}_default" >/dev/null 2>&1 || true
  podman volume rm -f "$prefix-data" >/dev/null 2>&1 || true
  if [ "${EDBP_IMAGE_KEEP:-0}" != 1 ] && [[ " $stages " == *" build "* ]]; then
    podman rmi -f "$image" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  echo
  echo "==== image-test summary ($(( $(date +%s) - start )) s in all) ===="
  printf '%s\n' "${summary[@]}"
  if [ "$rc" -ne 0 ]; then
    echo "image-test: FAILED${failed:+ in stage $failed} (exit $rc)"
  else
    echo "image-test: PASSED"
  fi
  exit "$rc"
}
trap cleanup EXIT

# stage NAME: runs stage_NAME, timing it.
stage() {
  local name=$1 t0
  [[ " $stages " == *" $name "* ]] || return 0
  log "---- stage $name"
  t0=$(date +%s)
  failed=$name
  "stage_$name"
  failed=""
  summary+=("$(printf '%-8s %5d s  %s' "$name" $(( $(date +%s) - t0 )) "${stage_note:-}")")
  stage_note=""
}
stage_note=""

# ---- setup ---------------------------------------------------------------------------

stage_setup() {
  [ "$(id -u)" -eq 0 ] || fail "needs root (rootful podman)"
  # iptables: netavark's firewall driver ("netavark: No such file or directory" without).
  local packages=(podman buildah runc netavark aardvark-dns iptables podman-compose
                  debootstrap openssl curl)
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 -q update
    apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends install "${missing[@]}"
  fi
  # What a sandboxed machine needs: runc (crun fails on its cgroups), cgroupfs and file
  # events (no systemd), netavark, and ulimits under the sandbox's own hard limits.
  mkdir -p /etc/containers/containers.conf.d
  cat > /etc/containers/containers.conf.d/50-edbp.conf <<'EOF'
# Written by edbp's scripts/image-test.sh (issue 21).
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "netavark"
EOF
  local info
  info=$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}} {{.Host.NetworkBackend}}' 2>/dev/null)
  [ "$info" = "runc cgroupfs netavark" ] || fail "podman info says '$info', not 'runc cgroupfs netavark'"
  stage_note="podman $(podman version --format '{{.Client.Version}}'), podman-compose $(dpkg-query -W -f='${Version}' podman-compose)"
}

# ---- base ----------------------------------------------------------------------------

# The Debian mirror apt uses here (deb822 sources first, then sources.list).
debian_mirror() {
  local m
  m=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null |
      awk '{print $2}' | grep -v security | head -1 || true)
  if [ -z "$m" ]; then
    m=$(grep -h '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
        awk '{print $2}' | grep -v security | grep -m1 debian || true)
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

stage_base() {
  if podman image exists "$base_image"; then
    stage_note="$base_image present"
    return
  fi
  local rootfs=$work/rootfs mirror
  mirror=$(debian_mirror)
  log "debootstrap --variant=minbase bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
  # As the official slim image: no apt lists or caches in the base.
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  tar -C "$rootfs" -c . | podman import -q --change 'CMD ["/bin/bash"]' - "$base_image" >/dev/null
  rm -rf "$rootfs"
  stage_note="$base_image from $mirror, $(podman image inspect --format '{{.Size}}' "$base_image" | awk '{printf "%.0f MB", $1 / 1e6}')"
}

# ---- build ---------------------------------------------------------------------------

image_size() {
  podman image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}'
}

stage_build() {
  podman image exists "$base_image" || fail "no $base_image (stage base)"
  log "podman build (compiles the project in the container; tens of minutes on 2 cores)"
  local cache=()
  [ "${EDBP_IMAGE_NO_CACHE:-0}" != 1 ] || cache=(--no-cache)
  [ "${EDBP_IMAGE_MPI:-0}" != 1 ] || cache+=(--build-arg MPI=1)
  podman build --format docker --pull=never "${cache[@]}" --build-arg BASE="$base_image" \
    -t "$image" -f Dockerfile . > "$work/build.log" 2>&1 ||
    { tail -40 "$work/build.log"; fail "podman build (log above)"; }
  tail -3 "$work/build.log"
  stage_note="$image $(image_size)"
}

# ---- the server in a container ------------------------------------------------------

client_bin=""
token=""
api="" health_port="" metrics_port=""
datasets=/usr/share/datasets/fashion-mnist

# The host's edbp-client (built when missing), the certificates, the token, the jobs.
prepare_client() {
  [ -z "$client_bin" ] || return 0
  # The client only (up to date with the sources), configuring BUILD_DIR where needed.
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    log "configuring $build_dir for the host's edbp-client"
    if ! { ./scripts/install-deps.sh && cmake -S . -B "$build_dir" -G Ninja; } \
         > "$work/host-build.log" 2>&1; then
      tail -20 "$work/host-build.log"
      fail "configuring $build_dir"
    fi
  fi
  cmake --build "$build_dir" --target edbp-client >> "$work/host-build.log" 2>&1 ||
    { tail -20 "$work/host-build.log"; fail "building edbp-client in $build_dir"; }
  client_bin=$(cd "$build_dir" && pwd)/bin/edbp-client
  if [ ! -f "$datasets/train-images-idx3-ubyte.gz" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q install dataset-fashion-mnist
  fi
  deploy/gen-certs.sh "$work/certs" localhost >/dev/null
  token=$(openssl rand -hex 32)
  # job.yaml: configs/small.yaml for one epoch of 200 samples; long.yaml: 3 epochs of
  # 3,000 samples (tens of seconds on 2 cores), for the stop in the middle.
  sed -e 's|^  epochs: .*|  epochs: 1\n  data_limit: 200|' \
      -e 's|^  data_path: .*|  data_path: "/datasets/fashion-mnist"|' \
      -e 's|^  backend: .*|  backend: "cpu"|' configs/small.yaml > "$work/job.yaml"
  sed -e 's|^  epochs: 1$|  epochs: 3|' -e 's|^  data_limit: 200|  data_limit: 3000|' \
      "$work/job.yaml" > "$work/long.yaml"
  grep -q 'data_limit: 3000' "$work/long.yaml" || fail "could not write long.yaml"
}

client() {
  EDBP_TOKEN=$token "$client_bin" --server "127.0.0.1:$api" --ca-cert "$work/certs/ca.pem" \
    --timeout 10 "$@"
}

# json_field FILE EXPR: evaluates the Python expression EXPR on the JSON document `d`.
json_field() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# wait_healthy CONTAINER SECONDS: until the health port answers SERVING.
wait_healthy() {
  local c=$1 limit=$2 i
  for ((i = 0; i < limit; i++)); do
    if "$client_bin" --server "127.0.0.1:$health_port" --timeout 2 health >/dev/null 2>&1; then
      return 0
    fi
    if [ "$(podman inspect --format '{{.State.Running}}' "$c")" != true ]; then
      podman logs --tail 30 "$c" >&2 || true
      fail "$c exited: $(podman inspect --format '{{.State.ExitCode}}' "$c")"
    fi
    sleep 1
  done
  podman logs --tail 30 "$c" >&2 || true
  fail "$c not healthy after ${limit}s"
}

ports_of() {
  local c=$1
  api=$(podman port "$c" 50051/tcp | head -1 | sed 's/.*://')
  health_port=$(podman port "$c" 50052/tcp | head -1 | sed 's/.*://')
  metrics_port=$(podman port "$c" 9090/tcp | head -1 | sed 's/.*://')
  [[ -n $api && -n $health_port && -n $metrics_port ]] ||
    fail "ports of $c: api '$api' health '$health_port' metrics '$metrics_port'"
}

# submit_and_follow CONFIG: prints the job's name; fails unless it ends SUCCEEDED.
submit_and_follow() {
  client --output json submit "$1" --name "image-test" > "$work/submit.json" ||
    fail "submit $1: $(cat "$work/submit.json")"
  local job
  job=$(json_field "$work/submit.json" 'd["name"]')
  client watch "$job" --from-start > "$work/watch.log" 2>&1 ||
    { tail -20 "$work/watch.log" >&2; fail "$job did not succeed"; }
  echo "$job"
}

# The server's flags: the image's CMD plus TLS, and the data set root.
# shellcheck disable=SC2054  # the commas are in --data-roots' value
server_args=(--listen=0.0.0.0:50051 --data-dir=/data --health-listen=0.0.0.0:50052
             --metrics-listen=0.0.0.0:9090 --tls-cert=/certs/server.pem
             --tls-key=/certs/server-key.pem --data-roots=/datasets,/data/datasets
             --grace-seconds=60)
first_job="" first_sha=""

stage_run() {
  podman image exists "$image" || fail "no $image (stage build)"
  prepare_client
  local c=$prefix-server
  podman rm -f -t 0 "$c" >/dev/null 2>&1 || true
  podman volume rm -f "$prefix-data" >/dev/null 2>&1 || true
  podman volume create "$prefix-data" >/dev/null
  # --read-only as in deploy/k8s (readOnlyRootFilesystem; podman adds tmpfs on /tmp).
  podman run -d --name "$c" --read-only -e EDBP_AUTH_TOKEN="$token" \
    -v "$prefix-data:/data" -v "$work/certs:/certs:ro" \
    -v "$datasets:/datasets/fashion-mnist:ro" \
    -p 127.0.0.1::50051 -p 127.0.0.1::50052 -p 127.0.0.1::9090 \
    "$image" "${server_args[@]}" >/dev/null
  ports_of "$c"
  wait_healthy "$c" 60
  log "server up: api 127.0.0.1:$api, health :$health_port, metrics :$metrics_port"

  # Without the token: refused (6); with it: the job runs to SUCCEEDED.
  local rc=0
  "$client_bin" --server "127.0.0.1:$api" --ca-cert "$work/certs/ca.pem" list >/dev/null 2>&1 || rc=$?
  [ "$rc" -eq 6 ] || fail "list without a token exited $rc, not 6"
  first_job=$(submit_and_follow "$work/job.yaml")
  client download "$first_job" -o "$work/first.safetensors" >/dev/null ||
    fail "download $first_job"
  local size
  size=$(stat -c %s "$work/first.safetensors")
  # safetensors: an 8-byte little-endian header length, then the JSON header.
  [[ $size -gt 100000 &&
     $(dd if="$work/first.safetensors" bs=1 skip=8 count=1 2>/dev/null) == "{" ]] ||
    fail "the checkpoint of $first_job is not a safetensors file ($size bytes)"
  first_sha=$(sha256sum < "$work/first.safetensors")
  log "$first_job SUCCEEDED; checkpoint $size bytes"

  # Runs as 10001:10001 (the server and its jobs); writes only under /data and /tmp.
  local uids
  uids=$(podman exec "$c" sh -c 'grep -h "^Uid:" /proc/[0-9]*/status | sort -u')
  [ "$(echo "$uids" | awk '{print $2 $3 $4 $5}' | sort -u)" = 10001100011000110001 ] ||
    fail "processes in $c run as: $uids"
  local d
  for d in / /opt/edbp /opt/edbp/bin /etc /usr /var /datasets /datasets/fashion-mnist /certs; do
    if podman exec "$c" sh -c "touch '$d/.edbp-write-test'" 2>/dev/null; then
      fail "the container can write to $d"
    fi
  done
  podman exec "$c" sh -c 'touch /data/.edbp-write-test && rm /data/.edbp-write-test' ||
    fail "the container cannot write to /data"
  # The data dir is private (0700) and owned by 10001.
  [ "$(podman exec "$c" stat -c '%u %a' /data)" = "10001 700" ] ||
    fail "/data is $(podman exec "$c" stat -c '%u %a' /data)"
  stage_note="job $first_job SUCCEEDED, checkpoint $size bytes; uid 10001, read-only root"
}

stage_health() {
  local c=$prefix-server out
  out=$(podman healthcheck run "$c" 2>&1) || fail "podman healthcheck run: $out"
  [ "$(podman inspect --format '{{.State.Health.Status}}' "$c")" = healthy ] ||
    fail "health status $(podman inspect --format '{{.State.Health.Status}}' "$c")"
  curl -fsS "http://127.0.0.1:$metrics_port/metrics" > "$work/metrics.txt" ||
    fail "/metrics on 127.0.0.1:$metrics_port"
  grep -q '^edbp_jobs{state="succeeded"} 1' "$work/metrics.txt" ||
    fail "/metrics lacks edbp_jobs{state=\"succeeded\"} 1: $(grep '^edbp_jobs' "$work/metrics.txt")"
  grep -q '^edbp_store_healthy 1' "$work/metrics.txt" || fail "/metrics: store not healthy"
  stage_note="healthcheck healthy; /metrics $(grep -c '^edbp_' "$work/metrics.txt") edbp_ samples"
}

stage_stop() {
  local c=$prefix-server job i state
  client --output json submit "$work/long.yaml" --name "image-test-stop" > "$work/long.json" ||
    fail "submit long.yaml"
  job=$(json_field "$work/long.json" 'd["name"]')
  # Stop once it has trained a few seconds (3 epochs take tens of seconds).
  for ((i = 0; i < 300; i++)); do
    client --output json get "$job" > "$work/get.json"
    state=$(json_field "$work/get.json" 'd.get("state")')
    [ "$state" = QUEUED ] || break
    sleep 1
  done
  [ "$state" = RUNNING ] || fail "$job is $state, not RUNNING"
  sleep 4
  client --output json get "$job" > "$work/get.json"
  state=$(json_field "$work/get.json" 'd.get("state")')
  [ "$state" = RUNNING ] || fail "$job is $state before the stop (make long.yaml longer)"
  local t0 stop_s exit_code
  t0=$(date +%s)
  podman stop -t 90 "$c" >/dev/null
  stop_s=$(( $(date +%s) - t0 ))
  exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$c")
  podman logs "$c" > "$work/server-before-stop.log" 2>&1 || true
  [ "$exit_code" -eq 0 ] || { tail -20 "$work/server-before-stop.log" >&2; fail "the server exited $exit_code on SIGTERM"; }
  [ "$stop_s" -lt 60 ] || fail "podman stop took ${stop_s}s (SIGKILL after the grace?)"
  log "stopped in ${stop_s}s (exit 0) with $job running; starting again"
  podman start "$c" >/dev/null
  ports_of "$c"
  wait_healthy "$c" 60
  client watch "$job" --from-start > "$work/watch-stop.log" 2>&1 ||
    { tail -20 "$work/watch-stop.log" >&2; fail "$job did not succeed after the restart"; }
  client --output json get "$job" > "$work/get.json"
  # Nothing lost: attempt 2, every epoch's metrics once, sequences 1..N without gaps,
  # and the first job with the same checkpoint as before.
  [ "$(json_field "$work/get.json" 'int(d.get("attempt", 0))')" -ge 2 ] ||
    fail "$job attempt $(json_field "$work/get.json" 'd.get("attempt")'): it was not resumed"
  client --output json watch "$job" --from-start > "$work/events.jsonl" ||
    fail "watch $job --output json"
  python3 - "$work/events.jsonl" <<'PY' || fail "the event stream of $job"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
seqs = [int(e["sequence"]) for e in events]
assert seqs == list(range(1, len(seqs) + 1)), f"sequences not 1..N: {seqs[:5]}..{seqs[-5:]}"
epochs = [int(e.get("epochMetrics", e.get("epoch_metrics"))["epoch"])
          for e in events if "epochMetrics" in e or "epoch_metrics" in e]
assert epochs == [1, 2, 3], f"epoch metrics {epochs}"
print(f"image-test: {len(events)} events, sequences 1..{len(seqs)}, epochs {epochs}")
PY
  grep -q 'resuming ' "$work/watch-stop.log" ||
    fail "$job's log does not say it resumed: $(grep -i -m3 'checkpoint' "$work/watch-stop.log")"
  client download "$first_job" -o "$work/first-again.safetensors" >/dev/null
  [ "$(sha256sum < "$work/first-again.safetensors")" = "$first_sha" ] ||
    fail "the checkpoint of $first_job changed across the restart"
  stage_note="SIGTERM drain in ${stop_s}s, $job resumed (attempt 2) and SUCCEEDED, nothing lost"
  podman rm -f -t 0 "$c" >/dev/null
  podman volume rm -f "$prefix-data" >/dev/null
}

# ---- the pod of deploy/k8s, emulated -------------------------------------------------

# The StatefulSet's container as podman can give it: the ConfigMap's flags as the
# --flagfile, the token and TLS files as Secrets mount them (root:10001, 0440,
# read-only), read-only root with /tmp a tmpfs, every capability dropped, no new
# privileges, the data set where the flags' --data_roots expect it.
stage_k8s() {
  podman image exists "$image" || fail "no $image (stage build)"
  prepare_client
  local c=$prefix-pod d=$work/pod
  mkdir -p "$d/flags" "$d/token" "$d/tls"
  sed -n 's/^    \(--.*\)$/\1/p' deploy/k8s/configmap.yaml > "$d/flags/flags"
  grep -q -- '^--auth_token_file=/etc/edbp/token/token$' "$d/flags/flags" ||
    fail "deploy/k8s/configmap.yaml: no --auth_token_file=/etc/edbp/token/token"
  echo "$token" > "$d/token/token"
  cp "$work/certs/server.pem" "$work/certs/server-key.pem" "$work/certs/ca.pem" "$d/tls/"
  chown -R 0:10001 "$d/token" "$d/tls"
  chmod 0755 "$d/token" "$d/tls"
  chmod 0440 "$d"/token/* "$d"/tls/*
  podman rm -f -t 0 "$c" >/dev/null 2>&1 || true
  podman volume rm -f "$prefix-pod-data" >/dev/null 2>&1 || true
  podman run -d --name "$c" --read-only --cap-drop=ALL --security-opt=no-new-privileges \
    -v "$prefix-pod-data:/data" -v "$d/flags:/etc/edbp/flags:ro" \
    -v "$d/token:/etc/edbp/token:ro" -v "$d/tls:/etc/edbp/tls:ro" \
    -v "$datasets:/usr/share/datasets/fashion-mnist:ro" \
    -p 127.0.0.1::50051 -p 127.0.0.1::50052 -p 127.0.0.1::9090 \
    "$image" --flagfile=/etc/edbp/flags/flags >/dev/null
  ports_of "$c"
  wait_healthy "$c" 60
  sed 's|^  data_path: .*|  data_path: "/usr/share/datasets/fashion-mnist"|' "$work/job.yaml" \
    > "$work/pod-job.yaml"
  local job
  job=$(submit_and_follow "$work/pod-job.yaml")
  [ "$(podman exec "$c" sh -c 'grep "^CapEff:" /proc/1/status' | awk '{print $2}')" = 0000000000000000 ] ||
    fail "$c has capabilities: $(podman exec "$c" grep ^Cap /proc/1/status)"
  podman rm -f -t 0 "$c" >/dev/null
  podman volume rm -f "$prefix-pod-data" >/dev/null
  stage_note="the StatefulSet's flagfile, Secret-like token/TLS (0440), no capabilities: $job SUCCEEDED"
}

# ---- MPI (EDBP_IMAGE_MPI=1) ----------------------------------------------------------

# The image built with --build-arg MPI=1 (deploy/k8s/mpijob): mpirun and sshd are there,
# and `mpirun -np 2 edbp-train` trains one epoch as two ranks, as uid 10001.
stage_mpi() {
  if [ "${EDBP_IMAGE_MPI:-0}" != 1 ]; then
    stage_note="not run (EDBP_IMAGE_MPI=1 builds and checks the MPI image)"
    return
  fi
  prepare_client
  local out
  out=$(podman run --rm --read-only --no-healthcheck -v "$work/job.yaml:/cfg/job.yaml:ro" \
    -v "$datasets:/datasets/fashion-mnist:ro" --entrypoint sh "$image" -c \
    'test -x /usr/sbin/sshd && mpirun --version | head -1 &&
     mpirun -np 2 --oversubscribe edbp-train /cfg/job.yaml --out-dir /tmp/run \
       --notensorboard && test -s /tmp/run/checkpoint_last.safetensors' 2>&1) ||
    { echo "$out" | tail -20 >&2; fail "mpirun -np 2 edbp-train in the MPI image"; }
  echo "$out" | grep -q '^all-reduce: ' || fail "no all-reduce in the two ranks' output"
  stage_note="$(echo "$out" | grep -m1 'Open MPI'), sshd; mpirun -np 2 edbp-train: $(echo "$out" | grep -m1 '^all-reduce: ')"
}

# ---- compose -------------------------------------------------------------------------

# compose ARGS...: podman-compose on the copy of deploy/compose.yaml in $work, with the
# variables it needs (every command interpolates the whole file, down included).
compose() {
  (cd "$work" && EDBP_TOKEN=$token EDBP_DATASETS=$(dirname "$datasets") \
     podman-compose -p "$prefix" -f compose.yaml "$@")
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stage_compose() {
  prepare_client
  # The compose file as shipped, next to its certs, with free host ports (the shipped
  # 50051 and 9090 may be taken on a shared machine).
  api=$(free_port)
  metrics_port=$(free_port)
  sed -e "s|127.0.0.1:50051:50051|127.0.0.1:$api:50051|" \
      -e "s|127.0.0.1:9090:9090|127.0.0.1:$metrics_port:9090|" deploy/compose.yaml > "$work/compose.yaml"
  grep -q "127.0.0.1:$api:50051" "$work/compose.yaml" || fail "compose.yaml: no API port to map"
  local c
  compose up -d --no-build > "$work/compose-up.log" 2>&1 ||
    { tail -20 "$work/compose-up.log" >&2; fail "podman-compose up"; }
  c=$(podman ps -a --filter "label=io.podman.compose.project=$prefix" --format '{{.Names}}' | head -1)
  [ -n "$c" ] || { tail -20 "$work/compose-up.log" >&2; fail "podman-compose started no container"; }
  local i ok=0
  for ((i = 0; i < 60; i++)); do
    if podman healthcheck run "$c" >/dev/null 2>&1; then ok=1; break; fi
    [ "$(podman inspect --format '{{.State.Running}}' "$c")" = true ] ||
      { podman logs --tail 30 "$c" >&2; fail "$c exited"; }
    sleep 1
  done
  [ "$ok" -eq 1 ] || { podman logs --tail 30 "$c" >&2; fail "$c not healthy"; }
  [ "$(podman inspect --format '{{.Config.User}}' "$c")" = 10001:10001 ] ||
    fail "$c runs as '$(podman inspect --format '{{.Config.User}}' "$c")'"
  local job
  job=$(submit_and_follow "$work/job.yaml")
  curl -fsS "http://127.0.0.1:$metrics_port/metrics" | grep -q '^edbp_jobs{state="succeeded"} 1' ||
    fail "compose: /metrics does not count the job"
  # podman-compose 1.0.3 drops stop_grace_period: podman's default 10 s applies.
  local stop_timeout
  stop_timeout=$(podman inspect --format '{{.Config.StopTimeout}}' "$c")
  compose down -v > "$work/compose-down.log" 2>&1 ||
    { tail -20 "$work/compose-down.log" >&2; fail "podman-compose down"; }
  podman network rm -f "${prefix}_default" >/dev/null  # down leaves the network
  if podman ps -a --format '{{.Names}}' | grep -qx "$c" ||
     podman volume exists "${prefix}_edbp-data"; then
    fail "podman-compose down left $c or its volume"
  fi
  stage_note="podman-compose up: healthy, $job SUCCEEDED, down (stop timeout ${stop_timeout}s)"
}

# ---- main ----------------------------------------------------------------------------

for s in $stages; do
  declare -F "stage_$s" >/dev/null || fail "unknown stage '$s' (EDBP_IMAGE_STAGES)"
done
for s in setup base build run health stop k8s mpi compose; do
  stage "$s"
done
