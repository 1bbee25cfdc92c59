#!/bin/sh
# Packaging as users do it (make packagecheck):
# 1. `make install DESTDIR=` into a temporary tree, then load the module.
# 2. `luarocks --lua-version 5.4 make --local` as a normal (non-root)
#    user with HOME in a temporary directory, then: load the module from
#    that tree, find memobj.pc with PKG_CONFIG_PATH pointing into the
#    tree, build a C module with `pkg-config --cflags memobj` against the
#    installed memobj.h, check that nothing links liblua, and run it.
# Run as root, it makes a user for step 2 (and removes it after); run as
# a normal user, it is that user. Nothing is left behind.
set -e
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
user=""
made_user=""
cleanup() {
  rm -rf "$tmp"
  if [ -n "$made_user" ]; then userdel "$made_user" 2>/dev/null || true; fi
}
trap cleanup EXIT

# ---- 1. make install DESTDIR ----
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

# ---- 2. luarocks make --local as a normal user ----
mkdir "$tmp/home" "$tmp/rockbuild"
tar --exclude=./build --exclude=./.git -cf - . | tar -C "$tmp/rockbuild" -xf -
cp examples/cmodule/cmodule.c "$tmp/home/cmodule.c"
if [ "$(id -u)" = 0 ]; then
  user=memobjpkg
  if ! id "$user" >/dev/null 2>&1; then
    useradd --no-create-home --home-dir "$tmp/home" --shell /bin/sh "$user"
    made_user=$user
  fi
  chmod 755 "$tmp"
  chown -R "$user" "$tmp/home" "$tmp/rockbuild"
fi

cat > "$tmp/home/steps.sh" <<'EOF'
set -e
cd "$HOME/../rockbuild"
luarocks --lua-version 5.4 make --local memobj-scm-1.rockspec >"$HOME/rock.log" 2>&1 ||
  { cat "$HOME/rock.log"; exit 1; }
cd "$HOME"
test -f "$HOME/.luarocks/lib/lua/5.4/memobj.so"
eval "$(luarocks --lua-version 5.4 --local path)"
lua5.4 -e 'assert(require("memobj").array("f64", {1, 2}):sum() == 3)'
rockdir=$(luarocks --lua-version 5.4 --local show --rock-dir memobj)
export PKG_CONFIG_PATH="$rockdir/pkgconfig"
cflags=$(pkg-config --cflags memobj)
libs=$(pkg-config --libs memobj)
case "$cflags" in *"$rockdir/include"*) ;; *) echo "cflags miss the header: $cflags"; exit 1 ;; esac
case "$libs" in *lua*) echo "memobj.pc links Lua: $libs"; exit 1 ;; esac
test -f "$rockdir/include/memobj.h"
# shellcheck disable=SC2086
cc -O2 -Wall -Werror -fPIC -shared $cflags -o cmodule.so cmodule.c $libs
if readelf -d cmodule.so | grep NEEDED | grep -q liblua; then
  echo "the C module links liblua"; exit 1
fi
LUA_CPATH="$HOME/?.so;$LUA_CPATH" lua5.4 -e '
  local memobj = require("memobj")
  local cmodule = require("cmodule")
  local a = memobj.array("i32", {1, 2, 3, 4})
  assert(cmodule.sum(a) == 10, "cmodule.sum")'
echo "pkg-config --cflags memobj: $cflags"
EOF

if [ -n "$user" ]; then
  runuser -u "$user" -- env -i HOME="$tmp/home" PATH=/usr/local/bin:/usr/bin:/bin \
    sh "$tmp/home/steps.sh"
else
  env -i HOME="$tmp/home" PATH=/usr/local/bin:/usr/bin:/bin sh "$tmp/home/steps.sh"
fi
echo "luarocks make --local as ${user:-$(id -un)}, C module with pkg-config: ok"
