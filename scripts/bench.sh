#!/usr/bin/env bash
# End-to-end benchmarks. Usage: scripts/bench.sh pull|replication|all
#   pull  `accel pull` against the baseline `skopeo copy` + `umoci unpack`, on a generated multi-layer image served by a
#         local docker-registry; medians of BENCH_RUNS runs go into a section of docs/benchmarks.md.
#   replication  delay from a skopeo push to availability on a target through `accel replicate serve` (median of
#         BENCH_RUNS), and `accel replicate --bandwidth` accuracy; see bench_replication.
# Environment: BENCH_SIZE_MB (300), BENCH_LAYERS (5), BENCH_SEED (42), BENCH_RUNS (5), BENCH_KEEP=1 keeps the work dir;
#   replication: BENCH_REPL_SIZE_MB (100), BENCH_BW_MB (300), BENCH_BW_KBPS (20000), BENCH_BW_RUNS (3).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

size_mb=${BENCH_SIZE_MB:-300}
layers=${BENCH_LAYERS:-5}
seed=${BENCH_SEED:-42}
runs=${BENCH_RUNS:-5}

work=$(mktemp -d "${TMPDIR:-/tmp}/accel-bench.XXXXXX")
registry_pid=
cleanup() {
  if [[ -n $registry_pid ]]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  if [[ ${BENCH_KEEP:-0} != 1 ]]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

log() { echo "[bench] $*" >&2; }

# Runs a command quietly, showing its output only if it fails.
quiet() {
  local out
  if ! out=$("$@" 2>&1); then
    echo "$out" >&2
    return 1
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

build_cli() {
  log "building accel (Release)"
  quiet dotnet build src/Accelerator.Cli -c Release -o "$work/cli"
  accel="$work/cli/accel"
}

# Writes LAYERS staging trees of mixed files (many small, some medium, a few large; half random bytes, half text),
# reproducible from SEED, and turns them into an OCI layout with GNU tar and umoci.
generate_image() {
  local layout=$1
  log "generating a ${size_mb} MB image in $layers layers (seed $seed)"
  python3 - "$work/stage" "$size_mb" "$layers" "$seed" <<'PY'
import os, random, sys
stage, size_mb, layers, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
words = [w.encode() for w in "container image layer registry mount chunk digest manifest blob peer lazy block snapshot cache mirror index".split()]
per_layer = size_mb * 1024 * 1024 // layers
for layer in range(layers):
    remaining, n = per_layer, 0
    while remaining > 0:
        kind = rng.randrange(10)
        size = rng.randrange(1024, 64 << 10) if kind < 6 else rng.randrange(64 << 10, 1 << 20) if kind < 9 else rng.randrange(1 << 20, 16 << 20)
        size = min(size, remaining)
        remaining -= size
        compressible = rng.random() < 0.5
        path = os.path.join(stage, f"layer{layer}", f"data/l{layer}/d{n % 16}", f"f{n:05d}.{'txt' if compressible else 'bin'}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if compressible:
            out = bytearray()
            while len(out) < size:
                out += b" ".join(rng.choice(words) for _ in range(12)) + b"\n"
            data = bytes(out[:size])
        else:
            data = rng.randbytes(size)
        with open(path, "wb") as f:
            f.write(data)
        n += 1
PY
  expected_files=$(find "$work/stage" -type f | wc -l)
  quiet umoci init --layout "$layout"
  quiet umoci new --image "$layout:latest"
  local i
  for ((i = 0; i < layers; i++)); do
    tar --create --file "$work/layer$i.tar" --directory "$work/stage/layer$i" --sort=name --mtime=@1704067200 \
      --owner=0 --group=0 --numeric-owner --format=posix --pax-option=delete=atime,delete=ctime .
    quiet umoci raw add-layer --image "$layout:latest" "$work/layer$i.tar"
    rm -f "$work/layer$i.tar"
  done
  rm -rf "$work/stage"
}

start_registry() {
  local port
  port=$(free_port)
  host="127.0.0.1:$port"
  mkdir -p "$work/registry"
  cat >"$work/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
  delete:
    enabled: true
http:
  addr: $host
YML
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  registry_pid=$!
  local i
  for ((i = 0; i < 100; i++)); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://$host/v2/', timeout=1)" 2>/dev/null; then
      log "registry on $host"
      return
    fi
    sleep 0.1
  done
  cat "$work/registry.log" >&2
  echo "registry did not start on $host" >&2
  return 1
}

# Prints the wall-clock seconds a command takes, or "failed".
time_run() {
  local start end
  start=$(date +%s.%N)
  if "$@" >"$work/run.log" 2>&1; then
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.3f}')"
  else
    echo failed
  fi
}

median() {
  python3 -c '
import statistics, sys
v = [float(x) for x in sys.argv[1:] if x != "failed"]
print(f"{statistics.median(v):.3f}" if v and len(v) == len(sys.argv) - 1 else "failed")' "$@"
}

# Replaces (or appends) the section between the markers of SCENARIO in docs/benchmarks.md with the file BODY.
write_section() {
  local scenario=$1 body=$2
  mkdir -p docs
  python3 - docs/benchmarks.md "$scenario" "$body" <<'PY'
import os, re, sys
path, scenario, body_file = sys.argv[1:]
start, end = f"<!-- bench:{scenario}:start -->", f"<!-- bench:{scenario}:end -->"
body = open(body_file).read().rstrip("\n")
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n\nEnd-to-end results written by `scripts/bench.sh`; each section is replaced when its scenario runs again.\n"
section = f"{start}\n{body}\n{end}"
pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text if text.endswith("\n") else text + "\n")
PY
}

bench_pull() {
  build_cli
  generate_image "$work/layout"
  start_registry
  log "pushing to $host/bench:latest"
  quiet skopeo copy --dest-tls-verify=false "oci:$work/layout:latest" "docker://$host/bench:latest"

  local accel_times=() base_times=() t r
  for ((r = 1; r <= runs; r++)); do
    rm -rf "$work/dest"
    t=$(time_run "$accel" pull --plain-http "$host/bench:latest" "$work/dest")
    if [[ $t == failed ]]; then
      log "accel pull failed: $(tail -n 3 "$work/run.log" | tr '\n' ' ')"
    elif (($(find "$work/dest" -type f -path '*/data/l*' 2>/dev/null | wc -l) != expected_files)); then
      # A run only counts when the unpacked tree holds every generated file.
      log "accel pull exited 0 but did not unpack the $expected_files files"
      t=failed
    fi
    accel_times+=("$t")
    rm -rf "$work/dest"

    rm -rf "$work/base-layout" "$work/base-bundle"
    t=$(time_run bash -c "skopeo copy --quiet --src-tls-verify=false docker://$host/bench:latest oci:$work/base-layout:latest &&
      umoci unpack --image $work/base-layout:latest $work/base-bundle")
    if [[ $t == failed ]]; then log "baseline failed: $(tail -n 3 "$work/run.log" | tr '\n' ' ')"; fi
    base_times+=("$t")
    rm -rf "$work/base-layout" "$work/base-bundle"
    log "run $r/$runs: accel ${accel_times[-1]} s, skopeo+umoci ${base_times[-1]} s"
  done

  local accel_median base_median ratio time_ratio
  accel_median=$(median "${accel_times[@]}")
  base_median=$(median "${base_times[@]}")
  ratio=$(python3 -c "import sys; a, b = sys.argv[1:]; print('n/a' if 'failed' in (a, b) else f'{float(b) / float(a):.2f}x')" "$accel_median" "$base_median")
  time_ratio=$(python3 -c "import sys; a, b = sys.argv[1:]; print('n/a' if 'failed' in (a, b) else f'{float(a) / float(b):.2f}')" "$accel_median" "$base_median")

  cat >"$work/section.md" <<MD
## pull: full pull and unpack

Command: \`scripts/bench.sh pull\` (image: ${size_mb} MB in ${layers} layers, seed ${seed}, half random and half text files; local docker-registry over plain HTTP; ${runs} runs each from a clean destination, wall clock).

Machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB memory, $(uname -m); date $(date -u +%Y-%m-%d).

| tool | median (s) | runs (s) |
| --- | --- | --- |
| \`accel pull --plain-http HOST/bench:latest DIR\` | ${accel_median} | ${accel_times[*]} |
| \`skopeo copy\` + \`umoci unpack\` (baseline) | ${base_median} | ${base_times[*]} |

Ratio of medians, accel / baseline: **${time_ratio}** (target ≤ 1.0); speed-up (baseline / accel): **${ratio}**.
MD
  write_section pull "$work/section.md"
  log "pull: accel ${accel_median} s, baseline ${base_median} s, ratio ${ratio}; written to docs/benchmarks.md"
}

# --- replication -----------------------------------------------------------------------------------------------------
# Two figures: (1) the delay from the end of a `skopeo copy` push of a BENCH_REPL_SIZE_MB image to a source registry
# until a HEAD of the manifest digest succeeds on a target, with `accel replicate serve` receiving the source's
# notifications (fresh source, target and serve per run, so every run copies every byte); (2) the accuracy of
# `accel replicate --bandwidth KBPS` on a BENCH_BW_MB blob (expected time = bytes / (KBPS * 1024)).

repl_pids=()
replication_cleanup() {
  local pid
  for pid in "${repl_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${repl_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  repl_pids=()
}

# Starts a docker-registry in $work/NAME on a free port (or PORT), notifying URL if given; sets repl_host.
repl_registry() {
  local name=$1 notify=${2:-} port
  port=$(free_port)
  repl_host="127.0.0.1:$port"
  mkdir -p "$work/$name/storage"
  {
    printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$work/$name/storage"
    printf 'http:\n  addr: %s\n' "$repl_host"
    if [[ -n $notify ]]; then
      printf 'notifications:\n  endpoints:\n    - name: accel\n      url: %s\n      timeout: 2s\n      threshold: 5\n      backoff: 1s\n' "$notify"
    fi
  } >"$work/$name/config.yml"
  docker-registry serve "$work/$name/config.yml" >"$work/$name/registry.log" 2>&1 &
  repl_pids+=($!)
  local i
  for ((i = 0; i < 100; i++)); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://$repl_host/v2/', timeout=1)" 2>/dev/null; then return; fi
    sleep 0.05
  done
  cat "$work/$name/registry.log" >&2
  echo "registry $name did not start on $repl_host" >&2
  return 1
}

# Writes an OCI layout at DIR (tag v1) whose one layer is SIZE_MB of random bytes: a transfer of known size.
repl_blob_layout() {
  python3 - "$1" "$2" <<'PY'
import hashlib, json, os, sys
root, size = sys.argv[1], int(sys.argv[2]) << 20
blobs = os.path.join(root, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)
def put(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}
layer = put(os.urandom(size))
config = put(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}}).encode())
manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
    "layers": [dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar")]}).encode())
with open(os.path.join(root, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
with open(os.path.join(root, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [dict(manifest, mediaType="application/vnd.oci.image.manifest.v1+json",
        annotations={"org.opencontainers.image.ref.name": "v1"})]}, f)
PY
}

bench_replication() {
  trap 'replication_cleanup; cleanup' EXIT
  local repl_mb=${BENCH_REPL_SIZE_MB:-100} bw_mb=${BENCH_BW_MB:-300} kbps=${BENCH_BW_KBPS:-20000} bw_runs=${BENCH_BW_RUNS:-3}
  build_cli
  local repl_layers=4
  size_mb=$repl_mb layers=$repl_layers generate_image "$work/repl-layout"
  local compressed_mb
  compressed_mb=$(du -sm "$work/repl-layout/blobs" | cut -f1)

  local delays=() r port serve_log d
  for ((r = 1; r <= runs; r++)); do
    repl_registry "target$r"
    local target=$repl_host
    port=$(free_port)
    serve_log="$work/serve$r.log"
    "$accel" replicate serve --plain-http --listen "http://127.0.0.1:$port" --to "$target" --data-dir "$work/queue$r" >"$serve_log.out" 2>"$serve_log" &
    repl_pids+=($!)
    local i
    for ((i = 0; i < 200; i++)); do
      if grep -q "Listening for registry notifications" "$serve_log.out" 2>/dev/null; then break; fi
      sleep 0.05
    done
    repl_registry "source$r" "http://127.0.0.1:$port/events"
    local source=$repl_host
    # Pushes with skopeo, then polls HEAD /v2/bench/app/manifests/DIGEST on the target every 5 ms; prints the seconds
    # from the end of the push to the first 200.
    d=$(python3 - "$work/repl-layout" "$source" "$target" <<'PY'
import http.client, json, subprocess, sys, time
layout, source, target = sys.argv[1:]
digest = json.load(open(f"{layout}/index.json"))["manifests"][0]["digest"]
subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{layout}:latest", f"docker://{source}/bench/app:v1"], check=True)
pushed = time.monotonic()
accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
host, port = target.split(":")
while time.monotonic() - pushed < 60:
    try:
        c = http.client.HTTPConnection(host, int(port), timeout=2)
        c.request("HEAD", f"/v2/bench/app/manifests/{digest}", headers={"Accept": accept})
        if c.getresponse().status == 200:
            print(f"{time.monotonic() - pushed:.3f}")
            sys.exit(0)
        c.close()
    except OSError:
        pass
    time.sleep(0.005)
print("failed")
PY
)
    if [[ $d == failed ]]; then log "run $r: not replicated within 60 s: $(tail -n 5 "$serve_log" | tr '\n' ' ')"; fi
    delays+=("$d")
    log "replication delay run $r/$runs: $d s"
    replication_cleanup
  done
  local delay_median delay_met
  delay_median=$(median "${delays[@]}")
  delay_met=$(python3 -c "import sys; m = sys.argv[1]; print('n/a' if m == 'failed' else ('yes' if float(m) <= 2.0 else 'no'))" "$delay_median")

  log "bandwidth cap: ${bw_mb} MB blob at ${kbps} KB/s, $bw_runs runs"
  repl_blob_layout "$work/bw-layout" "$bw_mb"
  repl_registry bw-source
  local bw_source=$repl_host
  quiet "$accel" copy --plain-http "oci:$work/bw-layout:v1" "$bw_source/bw/blob:v1"
  local bw_rows="" errors=() wall start end out bytes reported expected
  for ((r = 1; r <= bw_runs; r++)); do
    repl_registry "bw-target$r"
    start=$(date +%s.%N)
    out=$("$accel" replicate --plain-http "$bw_source" "$repl_host" --filter bw/blob --bandwidth "$kbps" 2>&1) || { log "accel replicate failed: $out"; }
    end=$(date +%s.%N)
    bytes=$(sed -n 's/.*(\([0-9]*\) bytes) copied in \([0-9.]*\) s\./\1/p' <<<"$out")
    reported=$(sed -n 's/.*(\([0-9]*\) bytes) copied in \([0-9.]*\) s\./\2/p' <<<"$out")
    read -r expected wall err < <(python3 -c "
import sys
b, kbps, rep, s, e = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
exp = b / (kbps * 1024)
print(f'{exp:.2f} {e - s:.2f} {100 * (rep - exp) / exp:+.1f}')" "${bytes:-0}" "$kbps" "${reported:-0}" "$start" "$end")
    errors+=("$err")
    bw_rows+="| $r | $bytes | $expected | $reported | $wall | ${err}% |"$'\n'
    log "bandwidth run $r: $bytes bytes, expected $expected s, measured $reported s (wall $wall s), error $err%"
  done
  replication_cleanup
  local bw_met
  bw_met=$(python3 -c "import sys; print('yes' if all(abs(float(x)) <= 5.0 for x in sys.argv[1:]) else 'no')" "${errors[@]}")

  local load_end
  load_end=$(cut -d' ' -f1-3 /proc/loadavg)
  cat >"$work/section.md" <<MD
## replication: event-driven delay and bandwidth cap

Command: \`scripts/bench.sh replication\`. Machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB memory, $(uname -m); date $(date -u +%Y-%m-%d); load average at the end ${load_end} (the machine is shared with other jobs). Local docker-registry processes over plain HTTP on loopback; \`accel\` built in Release.

### Delay from push to available on a target (\`accel replicate serve\`)

Per run: a fresh target registry, \`accel replicate serve --plain-http --listen http://127.0.0.1:PORT --to TARGET --data-dir DIR\`, and a fresh source registry whose \`notifications.endpoints\` point at it; then \`skopeo copy oci:LAYOUT:latest docker://SOURCE/bench/app:v1\` of a ${repl_mb} MB image (${repl_layers} layers from \`generate_image\`, ${compressed_mb} MB of blobs), and HEAD \`/v2/bench/app/manifests/DIGEST\` on the target every 5 ms from the moment skopeo returns until it answers 200. Every run copies every byte (nothing on the target beforehand).

| runs (s) | median (s) | target | met |
| --- | --- | --- | --- |
| ${delays[*]} | **${delay_median}** | ≤ 2 s | ${delay_met} |

### Bandwidth cap accuracy (\`accel replicate --bandwidth ${kbps}\`)

\`accel replicate --plain-http SOURCE TARGET --filter bw/blob --bandwidth ${kbps}\` of an image whose layer is ${bw_mb} MB of random bytes, to a fresh target per run. Expected time = bytes copied / (${kbps} × 1024 B/s); measured = the copy's own elapsed time as \`accel replicate\` reports it (listing, HEADs, blob and manifest pushes; process start excluded); wall = the whole process.

| run | bytes copied | expected (s) | measured (s) | wall (s) | error |
| --- | --- | --- | --- | --- | --- |
${bw_rows}
Target: within ±5% over a transfer of ≥ 10 s. Met: **${bw_met}**.
MD
  write_section replication "$work/section.md"
  log "replication: delay median ${delay_median} s (met: $delay_met); bandwidth errors ${errors[*]}% (met: $bw_met); written to docs/benchmarks.md"
}

case ${1:-} in
  pull) bench_pull ;;
  replication) bench_replication ;;
  all) bench_pull ;;
  *)
    echo "usage: scripts/bench.sh pull|replication|all" >&2
    exit 2
    ;;
esac
