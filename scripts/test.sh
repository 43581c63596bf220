#!/usr/bin/env bash
# Installs the test dependencies, runs every test project of the solution in Release, and ends with one line
# "N passed, N failed[, N skipped]" summed over all projects (read from the trx files). Exits with dotnet test's code.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

"$root/scripts/install-deps.sh"

results=$(mktemp -d "${TMPDIR:-/tmp}/accel-test-results.XXXXXX")
trap 'rm -rf "$results"' EXIT

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

rc=0
# The console logger at minimal verbosity prints one "Passed!/Failed!" summary per test project (and each failure).
dotnet test Accelerator.sln -c Release \
  --logger "console;verbosity=minimal" \
  --logger trx \
  --results-directory "$results" || rc=$?

# Sum the counters of every trx file (one per test project).
python3 - "$results" <<'PY'
import glob, os, sys
import xml.etree.ElementTree as ET

ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
for path in sorted(glob.glob(os.path.join(sys.argv[1], "**", "*.trx"), recursive=True)):
    try:
        counters = ET.parse(path).getroot().find("t:ResultSummary/t:Counters", ns)
    except ET.ParseError as e:
        print(f"warning: cannot read {path}: {e}", file=sys.stderr)
        continue
    if counters is None:
        continue
    get = lambda name: int(counters.get(name, "0"))
    passed += get("passed")
    failed += get("failed") + get("error") + get("timeout") + get("aborted")
    skipped += get("notExecuted")
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
PY

if ((rc != 0)); then
  echo "dotnet test exited with code $rc" >&2
fi
exit "$rc"
