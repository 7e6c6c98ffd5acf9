#!/usr/bin/env bash
# Sums the counters of every TRX file under a folder and prints "N passed, N failed, N skipped".
# Exits non-zero when a test failed or when no test ran at all.
set -euo pipefail
dir="${1:-TestResults}"
shopt -s nullglob globstar
files=("$dir"/**/*.trx)
passed=0; failed=0; skipped=0
for f in "${files[@]}"; do
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -n 1)
  get() { printf '%s' "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  skipped=$((skipped + $(get notExecuted)))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "${#files[@]}" -gt 0 ] && [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
