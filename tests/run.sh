#!/bin/sh
# Run every busted spec in tests/ against build/, twice: with the state's
# own allocator, then with the state switched to memobj's arena before the
# first spec (tests/helpers/arena_helper.lua). Ends with the line "N passed, N
# failed" over both runs. Exit status is non-zero on any failure.
# MEMOBJ_ARENA_RUN=0 skips the second run.
#
# As root (CI, `make test` on a fresh machine) the suite runs in a private
# mount namespace: /tmp is a fresh directory and /dev/shm a fresh tmpfs, so
# whatever a test or an example leaves behind is seen afterwards and counted
# as a failure ("no test leaves files or shm names behind"), and runs of the
# suite side by side cannot see each other's files.
cd "$(dirname "$0")/.." || exit 1
LUA=${LUA:-lua5.4}
BUILD=${MEMOBJ_BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
export MEMOBJ_BUILD="$BUILD"
export LUA_CPATH="$BUILD/?.so;;"
export LUA_PATH="$PWD/tests/helpers/?.lua;;"
# busted from PATH; --ignore-lua keeps it in $LUA (and under $LUA_WRAPPER)
# rather than re-running itself in the interpreter .busted names.
BUSTED=$(command -v busted) || { echo "busted not found on PATH"; exit 1; }
# SPEC: one spec ("array" is tests/array_spec.lua), a path, or a directory.
SPECS=tests/
if [ -n "$SPEC" ]; then
  SPECS=
  for s in "tests/${SPEC}_spec.lua" "tests/$SPEC" "$SPEC"; do
    if [ -e "$s" ]; then SPECS=$s; break; fi
  done
  [ -n "$SPECS" ] || { echo "no spec named $SPEC in tests/"; exit 1; }
fi
export LUA LUA_WRAPPER BUSTED SPECS BUILD BUSTED_OPTS
mkdir -p "$BUILD"
out="$BUILD/tests.tap"
leftovers="$BUILD/tests.leftovers"
passed=0
failed=0

run_busted() {
  # shellcheck disable=SC2086
  $LUA_WRAPPER $LUA "$BUSTED" --ignore-lua --cpath="$BUILD/?.so" --output=TAP \
    $BUSTED_OPTS "$SPECS" >"$out" 2>&1
}

# suite <label>: one run of the specs with $BUSTED_OPTS; adds its counts
# to passed and failed.
suite() {
  echo "== suite: $1"
  started=$(date +%s)
  rm -f "$out" "$leftovers"
  if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
    private=$(mktemp -d /tmp/memobj-tests.XXXXXX)
    # shellcheck disable=SC2016
    # A checkout under /tmp (git clone . /tmp/x) stays visible at its own
    # path: it is bound into the private directory before that covers /tmp.
    unshare -m sh -c '
      top=
      case "$4" in /tmp/?*)
        rel=${4#/tmp/}; top=${rel%%/*}
        mkdir -p "$1/$rel" && mount --bind "$4" "$1/$rel" || exit 125 ;;
      esac
      mount --rbind "$1" /tmp && mount -t tmpfs memobj-shm /dev/shm || exit 125
      cd "$4" || exit 125
      $LUA_WRAPPER $LUA "$BUSTED" --ignore-lua --cpath="$BUILD/?.so" --output=TAP \
        $BUSTED_OPTS "$SPECS" >"$2" 2>&1
      status=$?
      ls -A /tmp /dev/shm | grep -v -x -e "/.*:" -e "" -e "vgdb-pipe.*" -e "$top" >"$3"
      exit $status' isolate "$private" "$out" "$leftovers" "$PWD"
    status=$?
    # the bind of the checkout lived in the namespace only: never delete
    # through a mount point
    if ! grep -q " $private" /proc/self/mounts; then rm -rf "$private"; fi
    if [ "$status" -eq 125 ]; then run_busted; status=$?; fi
  else
    run_busted
    status=$?
  fi
  cat "$out"
  p=$(grep -c '^ok ' "$out")
  f=$(grep -c '^not ok ' "$out")
  # no output at all (removed by another run in the same build) is a
  # failure, never a silent 0 of 0
  if [ ! -s "$out" ]; then echo "not ok - the suite wrote no results"; f=$((f + 1)); fi
  if [ -s "$leftovers" ]; then
    echo "not ok - the tests left files in /tmp or names in /dev/shm:" \
      $(cat "$leftovers")
    f=$((f + 1))
  fi
  rm -f "$out" "$leftovers"
  # busted itself failing (a spec that does not load) counts as a failure
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p))
  failed=$((failed + f))
  # the time of each run, so that a test grown slow is seen (CI has a limit)
  echo "== suite: $1: $p passed, $f failed in $(( $(date +%s) - started )) s"
}

BUSTED_OPTS=
suite "the state's own allocator"
if [ "${MEMOBJ_ARENA_RUN:-1}" != 0 ]; then
  # memobj.mpi runs child ranks under mpirun: once is enough
  BUSTED_OPTS="--helper=tests/helpers/arena_helper.lua --exclude-pattern=mpi_spec"
  suite "the Lua state on memobj's arena"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
