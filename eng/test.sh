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
# The deployment tests render deploy/ with `kubectl kustomize` (kustomize v5 syntax). Debian 12 packages only kubectl
# 1.20, whose kustomize is too old, so a missing or too old kubectl is fetched from the Kubernetes release site
# (checked against its published sha256) into .state/tools.
if ! kubectl kustomize deploy/base >/dev/null 2>&1; then
  tools="$ROOT/.state/tools"
  if ! "$tools/kubectl" kustomize deploy/base >/dev/null 2>&1; then
    echo "[test] fetching kubectl v1.31.0 into $tools"
    mkdir -p "$tools"
    arch="$(dpkg --print-architecture 2>/dev/null || echo amd64)"
    base="https://dl.k8s.io/release/v1.31.0/bin/linux/$arch/kubectl"
    curl -fsSL -o "$tools/kubectl.download" "$base"
    echo "$(curl -fsSL "$base.sha256")  $tools/kubectl.download" | sha256sum -c --quiet
    chmod +x "$tools/kubectl.download" && mv "$tools/kubectl.download" "$tools/kubectl"
  fi
  export PATH="$tools:$PATH"
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
