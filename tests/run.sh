#!/bin/sh
# Run every busted spec in tests/ against build/ and end with the line
# "N passed, N failed". Exit status is non-zero on any failure.
cd "$(dirname "$0")/.." || exit 1
LUA=${LUA:-lua5.4}
BUILD=${MEMOBJ_BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
export MEMOBJ_BUILD="$BUILD"
export LUA_CPATH="$BUILD/?.so;;"
export LUA_PATH="$PWD/tests/?.lua;;"
out=$(mktemp)
$LUA_WRAPPER $LUA /usr/bin/busted --output=TAP tests/ >"$out" 2>&1
status=$?
cat "$out"
passed=$(grep -c '^ok ' "$out")
failed=$(grep -c '^not ok ' "$out")
rm -f "$out"
# busted itself failing (a spec that does not load) counts as a failure
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
