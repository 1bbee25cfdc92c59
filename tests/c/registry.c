/*
** registry.c: the runtime's registries have no fixed size. Linked with
** memobj's objects (not through require), it registers many more kinds
** and view tags than any old table held (stats had 16 slots, tx 4 durable
** kinds, view.c a closed list of 3 tags) and checks that every one is
** seen: stats() lists and counts each kind, a transaction on the last
** durable kind reaches its own commit hook, and mo_toview accepts a view
** of every new tag. Prints "ok ..." and exits 0, or says what failed.
*/
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>
#include "core.h"
#include "core/tx.h"

#define NKINDS 40
#define NTAGS 40

int luaopen_memobj(lua_State *L);

static char names[NKINDS][16];
static memobj_kind kinds[NKINDS];
static mo_kinddesc descs[NKINDS];
static unsigned char bytes[NKINDS][64];
static mo_tx states[NKINDS];
static int commits[NKINDS];

static void release(memobj_mem *m) { (void)m; }

static mo_tx *state(memobj_mem *m) {
  return &states[m->kind - kinds];
}

static int commit(memobj_mem *m, mo_tx *t, int *err) {
  (void)t;
  (void)err;
  commits[m->kind - kinds]++;
  return MO_TX_OK;
}

static const mo_txhooks hooks = {state, commit, NULL};

static int fail(const char *what) {
  fprintf(stderr, "registry: %s\n", what);
  return 1;
}

/* memobj.stats()[name].count */
static lua_Integer count_of(lua_State *L, const char *name) {
  lua_Integer n = -1;
  lua_getglobal(L, "memobj");
  lua_getfield(L, -1, "stats");
  lua_call(L, 0, 1);
  if (lua_getfield(L, -1, name) == LUA_TTABLE) {
    lua_getfield(L, -1, "count");
    n = lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 3);
  return n;
}

static const char view_mtkey = 0;

static int view_index(lua_State *L) {
  lua_pushnil(L);
  return 1;
}

int main(void) {
  lua_State *L = luaL_newstate();
  int i, top;
  luaL_openlibs(L);
  luaL_requiref(L, "memobj", luaopen_memobj, 1);
  lua_pop(L, 1);
  lua_getglobal(L, "memobj");
  for (i = 0; i < NKINDS; i++) {
    snprintf(names[i], sizeof names[i], "fake%d", i);
    kinds[i].name = names[i];
    kinds[i].persistence = "durable";
    kinds[i].release = release;
    descs[i].kind = &kinds[i];
    mo_kind_register(L, &descs[i]);
    if (mo_tx_register(&kinds[i], &hooks) != 0) return fail("tx register");
  }
  lua_pop(L, 1);
  /* one object of each kind: stats() counts every kind */
  top = lua_gettop(L);
  for (i = 0; i < NKINDS; i++) {
    memobj_mem *m = mo_mem_new(L, &kinds[i], sizeof(memobj_mem));
    m->guarded = 1;  /* durable kinds are guarded outside transactions */
    mo_mem_publish(L, m, bytes[i], sizeof bytes[i]);
  }
  for (i = 0; i < NKINDS; i++)
    if (count_of(L, names[i]) != 1) return fail("a kind missing from stats()");
  if (count_of(L, "heap") != 0) return fail("stats() lost the heap kind");
  /* the last durable kind's transaction reaches its own hook, and its
  ** memory refuses a write outside a transaction */
  lua_setglobal(L, "last");
  if (luaL_dostring(L,
        "local a = last:array('u8')\n"
        "assert(not pcall(function() a[1] = 1 end), 'write outside a transaction')\n"
        "last:transaction(function() a[1] = 42 end)\n"
        "assert(a[1] == 42)\n"
        "a:release()") != LUA_OK)
    return fail(lua_tostring(L, -1));
  if (commits[NKINDS - 1] != 1) return fail("the commit hook was not called");
  for (i = 0; i < NKINDS - 1; i++)
    if (commits[i] != 0) return fail("another kind's hook was called");
  lua_settop(L, top + 1);
  /* views with many new tags: each is accepted as a view */
  mo_view_newmeta(L, &view_mtkey, (const luaL_Reg[]){{NULL, NULL}}, NULL,
                  view_index);
  for (i = 0; i < NTAGS; i++) {
    mo_source s;
    mo_view *v;
    mo_checksource(L, top + 1, &s);
    v = mo_view_new(L, sizeof(mo_view), 0x54455300u + (uint32_t)i,
                    &view_mtkey, &s, 0, 8, 1, "test view");
    if (mo_toview(L, -1, 0) != v) return fail("a new view tag not accepted");
    mo_view_release(v);
    lua_pop(L, 2);
  }
  lua_close(L);
  printf("ok: %d kinds (%d durable), %d view tags\n", NKINDS, NKINDS, NTAGS);
  return 0;
}
