#!/bin/sh
# Install with `make install DESTDIR=` and with `luarocks make` into
# temporary trees, then load the installed module from each.
set -e
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
make --no-print-directory install PREFIX=/usr/local DESTDIR="$tmp/dest" >/dev/null
test -f "$tmp/dest/usr/local/include/memobj.h"
grep -q "^Version: [0-9]" "$tmp/dest/usr/local/lib/pkgconfig/memobj.pc"
LUA_CPATH="$tmp/dest/usr/local/lib/lua/5.4/?.so" lua5.4 -e \
  'assert(require("memobj").heap(8).size == 8)'
echo "make install DESTDIR: ok"
# memobj.mpi, when Open MPI is installed: memobj/mpi.so beside memobj.so
mpicheck() {
  mpicc --showme:link >/dev/null 2>&1 || return 0
  root=
  [ "$(id -u)" = 0 ] && root=--allow-run-as-root
  LUA_CPATH="$1/?.so" mpirun $root -np 1 -x LUA_CPATH lua5.4 -e \
    'assert(require("memobj.mpi").size == 1)'
  echo "$2: memobj.mpi ok"
}
mpicheck "$tmp/dest/usr/local/lib/lua/5.4" "make install DESTDIR"
mkdir "$tmp/rockbuild" && tar --exclude=./build --exclude=./.git -cf - . | tar -C "$tmp/rockbuild" -xf -
(cd "$tmp/rockbuild" &&
  luarocks --lua-version 5.4 --tree "$tmp/tree" make memobj-scm-1.rockspec >"$tmp/rock.log" 2>&1) ||
  { cat "$tmp/rock.log"; exit 1; }
LUA_CPATH="$tmp/tree/lib/lua/5.4/?.so" lua5.4 -e \
  'assert(require("memobj").array("f64", {1, 2}):sum() == 3)'
echo "luarocks make: ok"
mpicheck "$tmp/tree/lib/lua/5.4" "luarocks make"
