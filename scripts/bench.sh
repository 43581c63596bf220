#!/usr/bin/env bash
# Benchmarks. Usage: scripts/bench.sh pull|micro [FILTER]|all
#   pull  `accel pull` against the baseline `skopeo copy` + `umoci unpack`, on a generated multi-layer image served by a
#         local docker-registry; medians of BENCH_RUNS runs go into a section of docs/benchmarks.md.
#   micro the BenchmarkDotNet micro-benchmarks of tests/Accelerator.Benchmarks (short job, in-process), those whose
#         full name matches FILTER (a BenchmarkDotNet glob, default '*'); the table goes into docs/benchmarks.md.
# Environment: BENCH_SIZE_MB (300), BENCH_LAYERS (5), BENCH_SEED (42), BENCH_RUNS (5), BENCH_KEEP=1 keeps the work dir.
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

bench_micro() {
  local filter=$1
  log "building the micro-benchmarks (Release)"
  quiet dotnet build tests/Accelerator.Benchmarks -c Release -o "$work/micro"
  local load iterations=${BENCH_MICRO_ITERATIONS:-15}
  load=$(cut -d' ' -f1 /proc/loadavg)
  log "running micro-benchmarks matching '$filter' (short job; a few minutes)"
  # More iterations than the short job's 3, so that the fastest one ("min", reported beside the mean) is likely
  # undisturbed on a busy machine; ratios are given of means and of minimums.
  if ! (cd "$work" && dotnet "$work/micro/Accelerator.Benchmarks.dll" --job short --iterationCount "$iterations" --inProcess \
    --memory --filter "$filter" --artifacts "$work/bdn" >"$work/bdn.log" 2>&1); then
    tail -n 40 "$work/bdn.log" >&2
    return 1
  fi

  python3 - "$work/bdn/results" "$filter" "$(nproc)" "$(uname -m)" "$load" "$(nice)" "$iterations" >"$work/section.md" <<'PY'
import csv, datetime, glob, os, re, sys
results, filter_, cores, machine, load, niceness, iterations = sys.argv[1:]
# What each benchmark class compares against: its [Benchmark(Baseline = true)] method, and what that is.
baselines = {
    "TarReadingBenchmarks": ("SystemFormatsTar", "System.Formats.Tar `TarReader` on the same in-memory archive"),
    "HashingBenchmarks": ("Sha256HashData", "one-shot `SHA256.HashData` on the same 16 MiB buffer (the stream rows also copy the bytes out of a `MemoryStream` in 1 MiB reads)"),
    "DecompressionBenchmarks": ("Gzip", "gzip through `LayerStreams` (zstd and a bare `GZipStream` against it)"),
    "ManifestParsingBenchmarks": ("JsonDocumentParse", "`JsonDocument.Parse` of the same manifest bytes"),
}
units = {"ns": 1e-9, "μs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}

def seconds(text):
    m = re.match(r"([\d.,]+)\s*(\S+)", text or "")
    return float(m.group(1).replace(",", "")) * units[m.group(2)] if m and m.group(2) in units else None
fixed = {"Method", "Job", "Mean", "Error", "StdDev", "Ratio", "RatioSD", "Gen0", "Gen1", "Gen2", "Allocated", "Alloc Ratio", "Median"}
print("## micro: micro-benchmarks (BenchmarkDotNet)")
print()
print(f"Command: `scripts/bench.sh micro '{filter_}'` (BenchmarkDotNet short job with {iterations} iterations: 1 launch, 3 warm-ups, in-process; Release).")
print()
nice_note = f", run at niceness {niceness}" if niceness != "0" else ""
print(f"Machine: {cores} cores, {machine}, load average {load} when the run started{nice_note}; date {datetime.date.today().isoformat()}.")
print("Ratios are to the class's baseline: of means (BenchmarkDotNet's Ratio) and of minimums (the fastest iteration,")
print("the least disturbed by other work on a shared machine).")
for path in sorted(glob.glob(os.path.join(results, "*-report.csv"))):
    name = os.path.basename(path).removesuffix("-report.csv").split(".")[-1]
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        continue
    header = list(rows[0].keys())
    # Parameter columns come after the job's settings, just before Mean.
    params = header[header.index("WarmupCount") + 1:header.index("Mean")] if "WarmupCount" in header else []
    print()
    print(f"### {name}")
    print()
    baseline = baselines.get(name)
    if baseline:
        print(f"Baseline: {baseline[1]}.")
        print()
    print("| benchmark | mean | min | allocated | ratio (means) | ratio (mins) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        label = row["Method"] + "".join(f" ({p}={row[p]})" for p in params)
        ratio = row.get("Ratio", "") or "–"
        min_ratio = "–"
        if baseline:
            # The baseline row with the same parameter values.
            base = next((r for r in rows if r["Method"] == baseline[0] and all(r[p] == row[p] for p in params)), None)
            mine, theirs = seconds(row.get("Min")), seconds(base.get("Min")) if base else None
            if mine and theirs:
                min_ratio = f"{mine / theirs:.2f}"
        print(f"| {label} | {row['Mean']} | {row.get('Min', '–')} | {row['Allocated']} | {ratio} | {min_ratio} |")
PY
  write_section micro "$work/section.md"
  log "micro: written to docs/benchmarks.md"
  cat "$work/section.md" >&2
}

case ${1:-} in
  pull) bench_pull ;;
  micro) bench_micro "${2:-*}" ;;
  all)
    bench_pull
    bench_micro '*'
    ;;
  *)
    echo "usage: scripts/bench.sh pull|micro [FILTER]|all" >&2
    exit 2
    ;;
esac
