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
mkdir "$tmp/rockbuild" && tar --exclude=./build --exclude=./.git -cf - . | tar -C "$tmp/rockbuild" -xf -
(cd "$tmp/rockbuild" &&
  luarocks --lua-version 5.4 --tree "$tmp/tree" make memobj-scm-1.rockspec >"$tmp/rock.log" 2>&1) ||
  { cat "$tmp/rock.log"; exit 1; }
LUA_CPATH="$tmp/tree/lib/lua/5.4/?.so" lua5.4 -e \
  'assert(require("memobj").array("f64", {1, 2}):sum() == 3)'
echo "luarocks make: ok"
