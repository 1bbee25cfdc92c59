#!/bin/sh
# Run every busted spec in tests/ against build/, twice: with the state's
# own allocator, then with the state switched to memobj's arena first
# (tests/arena_helper.lua). Ends with the line "N passed, N failed" over
# both runs. Exit status is non-zero on any failure. MEMOBJ_ARENA_RUN=0
# skips the second run.
cd "$(dirname "$0")/.." || exit 1
LUA=${LUA:-lua5.4}
BUILD=${MEMOBJ_BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
export MEMOBJ_BUILD="$BUILD"
export LUA_CPATH="$BUILD/?.so;;"
export LUA_PATH="$PWD/tests/?.lua;;"
passed=0
failed=0
run() {  # run <label> [busted options]
  label=$1
  shift
  out=$(mktemp)
  echo "== suite: $label"
  $LUA_WRAPPER $LUA /usr/bin/busted --output=TAP "$@" tests/ >"$out" 2>&1
  status=$?
  cat "$out"
  p=$(grep -c '^ok ' "$out")
  f=$(grep -c '^not ok ' "$out")
  rm -f "$out"
  # busted itself failing (a spec that does not load) counts as a failure
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
}
run "default allocator"
if [ "${MEMOBJ_ARENA_RUN:-1}" != 0 ]; then
  run "Lua state on the arena" --helper=tests/arena_helper.lua
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
