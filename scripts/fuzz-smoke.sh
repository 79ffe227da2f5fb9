#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time (FUZZTIME, default
# 5s), so `make test` proves the targets still run and their seeds pass.
set -euo pipefail
t=${FUZZTIME:-5s}
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for fn in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $fn ($t)"
    go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$t" "$pkg" >/tmp/vigil-fuzz.log 2>&1 || { cat /tmp/vigil-fuzz.log; exit 1; }
  done
done
