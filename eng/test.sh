#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs and starts PostgreSQL and RabbitMQ (eng/infra.sh), builds,
# runs every test project, writes TRX files to TestResults/ and prints "N passed, N failed, N skipped".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash eng/infra.sh up
# The browser tests drive Debian's Chromium (no browser download is possible offline).
if [ ! -x /usr/bin/chromium ]; then
  echo "[test] installing chromium from Debian's packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
fi
eval "$(bash eng/infra.sh env)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

results="$ROOT/TestResults"
rm -rf "$results"
status=0
dotnet build Alignment.sln -c Release -v q -nologo || exit 1
dotnet test Alignment.sln -c Release --no-build -v q -nologo \
  --logger "trx" --results-directory "$results" "$@" || status=$?

bash eng/trx-summary.sh "$results" || status=1
exit $status
