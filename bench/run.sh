#!/bin/sh
# Run every bench/*.lua (or those named) and print one table of results.
cd "$(dirname "$0")/.." || exit 1
LUA=${LUA:-lua5.4}
export LUA_CPATH="$PWD/build/?.so;;"
export LUA_PATH="$PWD/bench/?.lua;;"
out=$(mktemp)
for b in ${*:-bench/*.lua}; do
  case "$b" in */common.lua|*/plots.lua) continue ;; esac
  # memobj.mpi against mpi4py starts mpirun itself: `make bench-mpi`
  if [ $# -eq 0 ] && [ "${b##*/}" = mpi.lua ]; then continue; fi
  echo "== $b"
  $LUA "$b" 2>&1 | tee -a "$out" | grep -v '^RESULT'
done
echo
printf '%-10s %-52s %-16s %s\n' bench measure result goal
grep '^RESULT' "$out" | awk -F'\t' '{ printf "%-10s %-52s %-16s %s\n", $2, $3, $4, $5 }'
rm -f "$out"
