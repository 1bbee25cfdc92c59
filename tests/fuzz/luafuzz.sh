#!/bin/sh
# Run a Lua fuzzer (tests/fuzz/*.lua taking `seed steps`) under ASan and
# UBSan with one seed after another until SECONDS have passed; stop at
# the first failure or sanitizer report and print the seed to replay.
# usage: SAN_PRELOAD=... sh tests/fuzz/luafuzz.sh SCRIPT SECONDS STEPS [FIRST_SEED]
# Needs build/asan (make BUILD=build/asan CFLAGS="$(SAN_FLAGS)" all) and
# the sanitizer runtime to preload (the Makefile's SAN_PRELOAD: make fuzz
# and make chaos pass it).
script=$1 seconds=${2:-60} steps=${3:-2000} seed=${4:-$(date +%s)}
LUA=${LUA:-lua5.4}
preload=${SAN_PRELOAD:?"SAN_PRELOAD is not set (run it through make fuzz or make chaos)"}
end=$(( $(date +%s) + seconds ))
runs=0
out=$(mktemp)
while [ "$(date +%s)" -lt "$end" ]; do
  if ! ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
      UBSAN_OPTIONS=print_stacktrace=1 LD_PRELOAD="$preload" \
      LUA_CPATH="build/asan/?.so" "$LUA" "$script" "$seed" "$steps" >"$out" 2>&1 ||
     grep -q -E "ERROR: AddressSanitizer|runtime error" "$out"; then
    grep -v WARNING "$out" | tail -40
    echo "FAILED: $script seed $seed ($steps steps): replay with"
    echo "  LUA_CPATH='build/asan/?.so' LD_PRELOAD='$preload' $LUA $script $seed $steps"
    rm -f "$out"
    exit 1
  fi
  runs=$((runs + 1))
  seed=$((seed + 1))
done
tail -1 "$out"
rm -f "$out"
echo "$script: $runs seeds of $steps steps, no failure"
