# memobj: memory objects for Lua 5.4.
# `make test` and `make demo` install what is missing first (see `deps`).

LUA_VERSION ?= 5.4
LUA ?= lua$(LUA_VERSION)
PKGS := lua$(LUA_VERSION) libffi
CC ?= gcc
CFLAGS ?= -O2 -g
# gnu11: the code uses GNU C (statement expressions, __attribute__,
# __builtin_*). CI adds WERROR=-Werror (.ci/run).
WERROR ?=
WARN := -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
  -Wmissing-prototypes -Wshadow $(WERROR)
PREFIX ?= /usr/local
DESTDIR ?=

BUILD := build
SRCS := $(wildcard runtime/core/*.c runtime/tools/*.c memobj/*.c access/*.c bindings/*.c)
OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(SRCS))
HDRS := $(wildcard runtime/*.h runtime/core/*.h runtime/tools/*.h memobj/*.h access/*.h bindings/*.h)
SO := $(BUILD)/memobj.so

# Every Debian package any target needs, in this one list (`make deps`
# installs what is missing; every target runs it first). Keep one package
# a line, with what needs it.
DEB_PKGS := \
  gcc make pkg-config \
  lua5.4 liblua5.4-dev libffi-dev zlib1g \
  lua-busted \
  lua-socket lua-luv lua-zlib lua-lpeg lua-cjson \
  libmimalloc2.0 \
  python3-numpy python3-numexpr \
  valgrind \
  lua-check cppcheck \
  gcovr \
  clang libclang-rt-14-dev \
  luarocks \
  lua-sql-sqlite3 liblmdb-dev \
  lua-cjson luajit \
  openmpi-bin libopenmpi-dev python3-mpi4py \
  gnuplot-nox
# gcc make pkg-config lua5.4 liblua5.4-dev libffi-dev: the build;
# zlib1g: the ffi specs call libz; lua-busted: the specs; lua-socket
# lua-luv lua-zlib lua-lpeg lua-cjson: readfrom/writeto and export/import
# specs (LuaSocket over loopback, luv threads), examples, doc/interop.md
# and bench/io.lua; libmimalloc2.0:
# set_allocator specs; python3-numpy: the .npy and expr specs and
# bench/kernels.lua; python3-numexpr: bench/expr.lua's baseline;
# valgrind: make check; lua-check cppcheck: make lint; gcovr: make
# coverage; clang libclang-rt-14-dev: make fuzz (libFuzzer); luarocks:
# make packagecheck; lua-sql-sqlite3 liblmdb-dev: the benchmarks' SQLite
# and LMDB baselines; lua-cjson luajit: bench/codec.lua's baselines
# (cjson, LuaJIT's string.buffer); openmpi-bin libopenmpi-dev: memobj.mpi
# and its specs (mpirun), python3-mpi4py: make bench-mpi's baseline;
# gnuplot-nox: make plots.

# The sanitizer runtime, preloaded into the uninstrumented lua5.4 of every
# run under ASan and UBSan (make check, fuzz, chaos).
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_PRELOAD = $$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)
SAN_ENV = ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
  UBSAN_OPTIONS=print_stacktrace=1 LD_PRELOAD="$(SAN_PRELOAD)"

# memobj.mpi (build/memobj/mpi.so): built when Open MPI's headers are
# found. A module apart: memobj.so never links libmpi; mpi.so reaches
# memobj through the C API of memobj.h only (doc/mpi.md). -z nodelete:
# MPI keeps threads and an atexit finalizer that must outlive lua_close.
MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null || pkg-config --cflags ompi 2>/dev/null)
MPI_LIBS := $(shell mpicc --showme:link 2>/dev/null || pkg-config --libs ompi 2>/dev/null)
MPI_SRCS := $(wildcard bindings/mpi/*.c)
MPI_HEADER := $(firstword $(wildcard $(patsubst -I%,%/mpi.h,$(filter -I%,$(MPI_CFLAGS)))))
MPI_SO := $(if $(and $(MPI_LIBS),$(MPI_HEADER)),$(BUILD)/memobj/mpi.so)

.PHONY: all deps mpi bench-mpi bench-deps test testmods testprogs crashtest powerloss check demo bench install clean cmodule \
	packagecheck fuzz chaos plots

all: $(SO) $(MPI_SO)

mpi: $(MPI_SO)
$(BUILD)/memobj/mpi.so: $(MPI_SRCS) bindings/mpi/mpi.h runtime/memobj.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -fPIC $(PKG_CFLAGS) $(MPI_CFLAGS) -shared -o $@ \
	  $(MPI_SRCS) $(MPI_LIBS) -Wl,-z,nodelete

# LUA_INCDIR (set by luarocks) overrides pkg-config for the Lua headers.
PKG_CFLAGS = $(if $(LUA_INCDIR),-I$(LUA_INCDIR) $(shell pkg-config --cflags libffi 2>/dev/null),$(shell pkg-config --cflags $(PKGS) 2>/dev/null))
PKG_LIBS = $(shell pkg-config --libs libffi 2>/dev/null)

# The numeric kernels are loops written for the vectoriser, which -O3 runs
# (gcc -O2 vectorises only loops of a known trip count). No -ffast-math.
KERNEL_OBJS := $(patsubst %,$(BUILD)/obj/access/%.o,array_kernels array_kernels_f32 array_arith array_minmax)
$(KERNEL_OBJS): XFLAGS := -O3
# The expression loops also vectorise sqrt (no errno: results unchanged).
$(BUILD)/obj/access/expr_eval.o: XFLAGS := -O3 -fno-math-errno

$(BUILD)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(XFLAGS) $(WARN) -fPIC $(PKG_CFLAGS) -c $< -o $@

$(SO): $(OBJS)
	$(CC) $(CFLAGS) -shared -o $@ $(OBJS) $(PKG_LIBS) -lrt -lmvec -lm -lpthread

deps:
	@missing=""; \
	for p in $(DEB_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "missing packages; run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

# (kept for scripts that call it: the one list has the benchmarks' packages)
bench-deps: deps

# Example C module that uses memobj.h only (no link to memobj.so).
cmodule: $(BUILD)/cmodule.so
$(BUILD)/cmodule.so: examples/cmodule/cmodule.c runtime/memobj.h
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) -fPIC $(PKG_CFLAGS) -Iruntime -shared -o $@ $<

# C test programs that specs run: the arena against libc, and two threads
# each with its own Lua state on the arena.
TEST_PROGS := $(BUILD)/arena_diff $(BUILD)/arena_threads $(BUILD)/arena_uaf \
  $(BUILD)/arena_uaf_asan $(BUILD)/crc32c_sw
testprogs: $(TEST_PROGS)
# a use after free in an arena, for valgrind (never built with sanitizers,
# even in build/asan) and for ASan
$(BUILD)/arena_uaf: tests/c/arena_uaf.c runtime/tools/arena.c runtime/tools/arena.h runtime/core/os.c
	@mkdir -p $(BUILD)
	$(CC) -O1 -g $(WARN) -o $@ tests/c/arena_uaf.c runtime/tools/arena.c runtime/core/os.c
$(BUILD)/arena_uaf_asan: tests/c/arena_uaf.c runtime/tools/arena.c runtime/tools/arena.h runtime/core/os.c
	@mkdir -p $(BUILD)
	$(CC) -O1 -g -fsanitize=address $(WARN) -o $@ tests/c/arena_uaf.c runtime/tools/arena.c runtime/core/os.c
$(BUILD)/arena_diff: tests/c/arena_diff.c runtime/tools/arena.c runtime/tools/arena.h runtime/core/os.c
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) -o $@ tests/c/arena_diff.c runtime/tools/arena.c runtime/core/os.c
$(BUILD)/crc32c_sw: tests/c/crc32c_sw.c memobj/crc32c.c memobj/crc32c.h
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) -o $@ $< -lpthread
$(BUILD)/arena_threads: tests/c/arena_threads.c
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) $(PKG_CFLAGS) -o $@ $< $(shell pkg-config --libs lua$(LUA_VERSION)) -lpthread

# The power-loss simulator links the pool's files directly (no Lua): the
# objects of the library's own build, so `make coverage` counts its runs.
POOL_SRCS := $(wildcard memobj/pool*.c) memobj/crc32c.c runtime/core/os.c
POOL_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(POOL_SRCS))
POWERLOSS := $(BUILD)/powerloss
powerloss: $(POWERLOSS)
$(POWERLOSS): tests/crash/powerloss.c $(POOL_OBJS) memobj/pool.h memobj/poolint.h memobj/crc32c.h runtime/core/os.h
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) -o $@ tests/crash/powerloss.c $(POOL_OBJS)

# Test-only programs (never installed): the OS-table hook of tests/c/oshook.c
# and the two-thread harness of tests/c/threads.c.
testmods: $(BUILD)/test/oshook.so $(BUILD)/test/threads $(BUILD)/test/registry \
  $(BUILD)/test/f32div
# float32 a:div(y) against the exact loop, bit for bit (tests/c/f32div.c)
$(BUILD)/test/f32div: tests/c/f32div.c access/array_kernels_f32.c access/array_kernels.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -O3 $(WARN) -o $@ tests/c/f32div.c access/array_kernels_f32.c -lm
$(BUILD)/test/registry: tests/c/registry.c $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(PKG_CFLAGS) -Iruntime -o $@ $< $(OBJS) \
	  $(shell pkg-config --libs lua$(LUA_VERSION)) $(PKG_LIBS) -lrt -lm -ldl -lpthread
$(BUILD)/test/threads: tests/c/threads.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(PKG_CFLAGS) -o $@ $< $(shell pkg-config --libs lua$(LUA_VERSION)) -lpthread
$(BUILD)/test/oshook.so: tests/c/oshook.c runtime/core/os.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -fPIC $(PKG_CFLAGS) -Iruntime -shared -o $@ $<

test: deps
	@$(MAKE) --no-print-directory all cmodule testmods testprogs powerloss
	@LUA=$(LUA) MEMOBJ_BUILD=$(BUILD) sh tests/run.sh

# The whole suite with AddressSanitizer and UBSan (the sanitizer runtime is
# preloaded into the uninstrumented lua5.4: SAN_ENV), then under valgrind
# memcheck.
check: deps
	@$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="$(SAN_FLAGS)" all cmodule testmods testprogs powerloss
	@echo "== AddressSanitizer + UBSan"
	@$(SAN_ENV) LUA=$(LUA) MEMOBJ_BUILD=build/asan sh tests/run.sh
	@$(MAKE) --no-print-directory all cmodule testmods testprogs powerloss
	@echo "== valgrind memcheck"
	@# once, on the default allocator: the arena run is covered under ASan
	@# above, and valgrind's mempool view of it by tests/c/arena_uaf.c
	@MEMOBJ_ARENA_RUN=0 LUA=$(LUA) MEMOBJ_BUILD=$(BUILD) \
	  LUA_WRAPPER="valgrind -q --error-exitcode=99 --trace-children=no" sh tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@cd examples && LUA_CPATH="../$(BUILD)/?.so;;" $(LUA) demo.lua

# The crash harness of persistent pools: simulated power loss over at
# least 100,000 crash states (make test: 3,000), then 2000 SIGKILLs
# (make test: 200), then 1000 SIGKILLs of processes using queues and
# dictionaries (make test: 100). POWERLOSS_SEED replays a run.
POWERLOSS_STATES ?= 100000
crashtest: deps
	@$(MAKE) --no-print-directory all powerloss
	@d=$$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d) && \
	  $(POWERLOSS) $$d $(POWERLOSS_STATES) $(POWERLOSS_SEED); \
	  s=$$?; rm -rf $$d; [ $$s -eq 0 ]
	@MEMOBJ_CRASH_KILLS=2000 MEMOBJ_STRUCT_KILLS=1000 MEMOBJ_POWERLOSS_STATES=0 LUA=$(LUA) \
	  LUA_CPATH="$(CURDIR)/$(BUILD)/?.so;;" LUA_PATH="$(CURDIR)/tests/helpers/?.lua;;" MEMOBJ_BUILD="$(CURDIR)/$(BUILD)" \
	  $(LUA) "$$(command -v busted)" --ignore-lua tests/crash/

bench: bench-deps
	@$(MAKE) --no-print-directory all
	@LUA=$(LUA) sh bench/run.sh

# memobj.mpi against mpi4py (bench/mpi.lua starts mpirun -np 2 itself).
bench-mpi: deps
	@$(MAKE) --no-print-directory all
	@LUA=$(LUA) sh bench/run.sh bench/mpi.lua

LUA_CMOD_DIR ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
INCLUDE_DIR ?= $(PREFIX)/include
PC_DIR ?= $(PREFIX)/lib/pkgconfig
VERSION := $(shell sed -n 's/^#define MEMOBJ_VERSION "\(.*\)"/\1/p' runtime/memobj.h)
install: $(SO) $(MPI_SO)
	install -d $(DESTDIR)$(LUA_CMOD_DIR) $(DESTDIR)$(INCLUDE_DIR) $(DESTDIR)$(PC_DIR)
	install -m 0755 $(SO) $(DESTDIR)$(LUA_CMOD_DIR)/memobj.so
	$(if $(MPI_SO),install -d $(DESTDIR)$(LUA_CMOD_DIR)/memobj && \
	  install -m 0755 $(MPI_SO) $(DESTDIR)$(LUA_CMOD_DIR)/memobj/mpi.so)
	install -m 0644 runtime/memobj.h $(DESTDIR)$(INCLUDE_DIR)/memobj.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' memobj.pc.in \
	  > $(DESTDIR)$(PC_DIR)/memobj.pc

# The plots of doc/performance.md, from a fresh measurement.
plots: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p doc/img
	LUA_CPATH="$(BUILD)/?.so;;" LUA_PATH="bench/?.lua;;" $(LUA) bench/plots.lua
	gnuplot bench/plots.gp

# Fuzzing: libFuzzer targets (clang) linked with every memobj source,
# FUZZ_SECONDS each, then the Lua-level random-operation fuzzer under ASan.
FUZZ_SECONDS ?= 60
FUZZ_ARRAY_STEPS ?= 200000
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -std=gnu11
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_lua.h $(SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(PKG_CFLAGS) -Iruntime -o $@ $< $(SRCS) \
	  $(shell pkg-config --libs lua5.4 libffi) -lrt -lm -ldl
fuzz: deps
	@$(MAKE) --no-print-directory $(FUZZ_TARGETS) BUILD=$(BUILD)
	@for t in $(FUZZ_TARGETS); do \
	  echo "== $$t ($(FUZZ_SECONDS) s)"; mkdir -p $(BUILD)/corpus/$$(basename $$t); \
	  $$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -max_len=80000 -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/fuzz/ \
	    $(BUILD)/corpus/$$(basename $$t) tests/fuzz/seeds/$$(basename $$t) 2>&1 \
	    | grep -E "^(stat::number_of_executed_units|==|SUMMARY|difference)" || exit 1; \
	done
	@$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="$(SAN_FLAGS)" all
	@echo "== random operations under ASan"
	@for seed in 1 2 3 4 5 6 7 8; do \
	  $(SAN_ENV) LUA_CPATH="build/asan/?.so" $(LUA) tests/fuzz/ops.lua $$seed 20000 2>&1 | grep -v WARNING || exit 1; \
	done
	@echo "== typed arrays against the string.pack model under ASan"
	@for seed in 1 2 3 4 5 6 7 8; do \
	  $(SAN_ENV) LUA_CPATH="build/asan/?.so" $(LUA) tests/fuzz/arrays.lua $$seed $(FUZZ_ARRAY_STEPS) \
	    >build/asan/fuzz-arrays.out 2>&1; \
	  grep -v WARNING build/asan/fuzz-arrays.out; \
	  grep -q "steps: ok" build/asan/fuzz-arrays.out || exit 1; \
	done
	@$(MAKE) --no-print-directory chaos CHAOS_SECONDS=$(LUAFUZZ_SECONDS)
	@echo "== byte views against the string library, file views against io"
	@LUA=$(LUA) SAN_PRELOAD="$(SAN_PRELOAD)" sh tests/fuzz/luafuzz.sh tests/fuzz/bytesdiff.lua $(LUAFUZZ_SECONDS) 5000
	@LUA=$(LUA) SAN_PRELOAD="$(SAN_PRELOAD)" sh tests/fuzz/luafuzz.sh tests/fuzz/filediff.lua $(LUAFUZZ_SECONDS) 300

# The Lua-level fuzzers under ASan, LUAFUZZ_SECONDS each (make fuzz) or
# CHAOS_SECONDS for the finalizer-chaos fuzzer alone (make chaos):
# tests/fuzz/luafuzz.sh runs seed after seed and prints the one to replay.
LUAFUZZ_SECONDS ?= 60
CHAOS_SECONDS ?= 300
chaos:
	@$(MAKE) --no-print-directory BUILD=build/asan CFLAGS="$(SAN_FLAGS)" all
	@echo "== finalizer chaos under ASan ($(CHAOS_SECONDS) s)"
	@LUA=$(LUA) SAN_PRELOAD="$(SAN_PRELOAD)" sh tests/fuzz/luafuzz.sh tests/fuzz/chaos.lua $(CHAOS_SECONDS) 3000

# Packaging checks: `make install DESTDIR=...` and `luarocks make` into a
# temporary tree, offline, then require the installed module.
packagecheck: deps
	@sh tests/helpers/packaging.sh

# Static checks: luacheck on every Lua file (.luacheckrc), cppcheck on every
# C file (tools/cppcheck.supp), and the include rules of doc/internals.md
# (tools/layers.lua).
LUA_FILES = $(shell find bench examples tests tools -name '*.lua' -not -path '*/build/*')
C_FILES = $(shell find runtime memobj access bindings examples tests bench -name '*.c')
lint: deps
	@echo "== luacheck"
	@luacheck -q --no-color $(LUA_FILES)
	@echo "== cppcheck"
	@cppcheck -q --error-exitcode=1 --include=tools/cppcheck.h --inline-suppr --suppressions-list=tools/cppcheck.supp \
	  --enable=warning,portability,performance --std=c11 -D_GNU_SOURCE -Iruntime $(C_FILES)
	@echo "== include layers"
	@$(LUA) tools/layers.lua $(SRCS) $(HDRS) $(MPI_SRCS) bindings/mpi/mpi.h
	@echo "== system calls only through the OS layer"
	@$(LUA) tools/syscalls.lua $(SRCS)

# Line coverage of the suite, per file of runtime/, memobj/, access/ and
# bindings/ (gcov through gcovr), from a build in build/cov. The power-loss
# harness links the pool's objects of that build, so its runs (the crash
# spec) count for the pool's files too. Prints the failed tests and the
# suite's "N passed, N failed" before the table.
coverage: deps
	@rm -rf build/cov
	@$(MAKE) --no-print-directory BUILD=build/cov \
	  CFLAGS="-O0 -g --coverage -fprofile-update=atomic" all cmodule testmods testprogs powerloss
	@LUA=$(LUA) MEMOBJ_BUILD=build/cov sh tests/run.sh >build/cov/tests.log 2>&1; \
	  grep "^not ok" build/cov/tests.log; tail -1 build/cov/tests.log
	@gcovr -r . --gcov-ignore-parse-errors --object-directory build/cov/obj \
	  -f runtime/ -f memobj/ -f access/ -f bindings/ build/cov/obj

clean:
	rm -rf $(BUILD)
