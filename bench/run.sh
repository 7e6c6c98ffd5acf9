#!/usr/bin/env bash
# Performance at scale, measured against the physical limits, in one command:
#   bash bench/run.sh [--scale small|full] [benchmark...]     (benchmarks: import phases saga api llm; default all)
# Brings PostgreSQL and RabbitMQ up (eng/infra.sh), builds the bench (which builds the services), then runs each
# benchmark in a fresh process, each against freshly started service processes on fresh databases and a fresh vhost.
# Every figure is printed next to its reference measured in the same run; the markdown table goes to
# .state/bench/results-<scale>.md and the service logs to .state/bench/.
# The API benchmark uses the bench's own open-loop load generator (fixed rate, latency from the scheduled send time)
# rather than wrk: wrk is closed-loop and cannot hold a fixed rate (wrk2 can, but Debian does not package it).
# The services run in Production trusting the test signing key (no identity provider); the bench calls them as an admin
# of workspace "default", so every API figure includes bearer-token validation (ServiceStack.AuthEnvironment).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scale=small
benchmarks=()
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale="${2:?--scale needs small, full or smoke}"; shift 2 ;;
    import|phases|saga|api|llm) benchmarks+=("$1"); shift ;;
    *) echo "usage: bash bench/run.sh [--scale small|full] [import|phases|saga|api|llm]..." >&2; exit 2 ;;
  esac
done
[ ${#benchmarks[@]} -gt 0 ] || benchmarks=(import phases saga api llm)
case "$scale" in
  smoke) phase_rows=(300) ;;
  small) phase_rows=(20000 100000) ;;
  full) phase_rows=(100000 1000000) ;;
  *) echo "unknown scale $scale" >&2; exit 2 ;;
esac

bash eng/infra.sh up
eval "$(bash eng/infra.sh env)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

echo "[bench] building (Release)"
dotnet build bench/Bench -c Release -v q -nologo -clp:ErrorsOnly

mkdir -p .state/bench
results=".state/bench/results-$scale.md"
{
  echo "# Bench results, scale $scale, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
} >"$results"

bench=(dotnet bench/Bench/bin/Release/net10.0/MetricAlignment.Bench.dll)
failed=0
for benchmark in "${benchmarks[@]}"; do
  if [ "$benchmark" = phases ]; then
    # One process per size, so that each size's peak memory is its own.
    for rows in "${phase_rows[@]}"; do
      "${bench[@]}" phases --scale "$scale" --rows "$rows" --markdown "$results" || failed=1
    done
  else
    "${bench[@]}" "$benchmark" --scale "$scale" --markdown "$results" || failed=1
  fi
done

echo
cat "$results"
exit $failed
