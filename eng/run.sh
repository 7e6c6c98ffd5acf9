#!/usr/bin/env bash
# The whole system on a fresh machine: installs and starts PostgreSQL and RabbitMQ (eng/infra.sh), starts the
# Aspire AppHost (development identity issuer, Metrics, Annotations, Alignment, Web, dashboard), imports the
# summarization dataset and runs the demo. Leaves everything running until Ctrl+C.
#   eng/run.sh            run and keep running
#   eng/run.sh --no-wait  run the demo, then stop (used to check the command end to end)
# The import and the demo sign in at the development issuer as MA_USER (default admin, workspace "default") with
# MA_PASSWORD (default metric-alignment, the development password); both need the Edit policy (metric-editor or admin).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
wait_forever=1
[ "${1:-}" = "--no-wait" ] && wait_forever=0

bash eng/infra.sh up
# Each service connects as its own database and broker user (docs/security.md).
eval "$(bash eng/infra.sh env --services)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

METRICS_URL=http://127.0.0.1:5101
ANNOTATIONS_URL=http://127.0.0.1:5102
ALIGNMENT_URL=http://127.0.0.1:5103
WEB_URL=http://127.0.0.1:5104
IDENTITY_URL=http://127.0.0.1:5105
DASHBOARD_URL=http://127.0.0.1:18888

echo "[run] building"
dotnet build Alignment.sln -c Release -v q -nologo -clp:ErrorsOnly

mkdir -p .state
log="$ROOT/.state/apphost.log"
echo "[run] starting the AppHost (log: $log)"
dotnet run --project AppHost -c Release --no-build --launch-profile http >"$log" 2>&1 &
apphost=$!
cleanup() { kill "$apphost" 2>/dev/null || true; wait "$apphost" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

for url in "$IDENTITY_URL" "$METRICS_URL" "$ANNOTATIONS_URL" "$ALIGNMENT_URL" "$WEB_URL"; do
  deadline=$((SECONDS + 180))
  until [ "$(curl -s -m 3 "$url/health" 2>/dev/null)" = "Healthy" ]; do
    if ! kill -0 "$apphost" 2>/dev/null; then tail -n 40 "$log" >&2; echo "[run] the AppHost exited" >&2; exit 1; fi
    if [ $SECONDS -ge $deadline ]; then tail -n 40 "$log" >&2; echo "[run] $url not healthy after 180 s" >&2; exit 1; fi
    sleep 1
  done
  echo "[run] $url healthy"
done

# The password travels in the environment (MA_PASSWORD), not on a command line that `ps` shows.
export MA_PASSWORD="${MA_PASSWORD:-metric-alignment}"
user="${MA_USER:-admin}"
token_endpoint="$IDENTITY_URL/connect/token"

echo "[run] importing the summarization dataset (8 evaluations) as $user"
dotnet run --project tools/DatasetImport -c Release --no-build -- --annotations-url "$ANNOTATIONS_URL" --dataset data/summarization-gpt4-vs-humans \
  --user "$user" --token-endpoint "$token_endpoint"

echo "[run] demo: a fluency alignment run on the dataset, from Start to Accept, as $user"
dotnet run --project tools/Demo -c Release --no-build -- \
  --metrics-url "$METRICS_URL" --alignment-url "$ALIGNMENT_URL" --broker "$ConnectionStrings__messaging" --metric fluency --delta-threshold 1 \
  --user "$user" --token-endpoint "$token_endpoint"

cat <<EOF

Metric Alignment is running:
  Web                  $WEB_URL   (metrics, alignment runs, evaluations; sign in as viewer, annotator, reviewer,
                       editor or admin, password metric-alignment)
  Identity (dev)       $IDENTITY_URL/connect/token   (users: $IDENTITY_URL/users)
  Aspire dashboard     $DASHBOARD_URL
  Metrics API          $METRICS_URL/scalar   (OpenAPI: $METRICS_URL/openapi/v1.json)
  Annotations API      $ANNOTATIONS_URL/scalar
  Alignment API        $ALIGNMENT_URL/scalar
  Audit log (sample event consumer) http://127.0.0.1:5181/api/audit   (needs a bearer token)
  RabbitMQ management  $MA_RMQ_MANAGEMENT
EOF

if [ $wait_forever -eq 1 ]; then
  echo "Press Ctrl+C to stop."
  wait "$apphost"
fi
