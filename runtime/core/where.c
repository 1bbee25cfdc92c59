/*
** where.c: "where was this made", the one recorder of memobj. Locks
** (lock.c), the objects list and the Lua heap tracer (runtime/tools/)
** all ask it for the Lua code that made a thing: the first Lua function
** up the stack (C functions in between, memobj's own or a C module's, are
** passed over), and for a chain, its Lua callers.
*/
#include <stdio.h>
#include <string.h>
#include "../core.h"

int mo_where_level(lua_State *L, int level, lua_Debug *ar) {
  for (; lua_getstack(L, level, ar); level++)
    if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0) return level;
  return -1;
}

int mo_where_frames(lua_State *L, int level, mo_frame *out, int n) {
  lua_Debug ar;
  int k = 0;
  while (k < n && (level = mo_where_level(L, level, &ar)) > 0) {
    out[k].source = ar.source;
    out[k].line = ar.currentline;
    memcpy(out[k].short_src, ar.short_src, sizeof out[k].short_src);
    out[k].short_src[sizeof out[k].short_src - 1] = '\0';
    k++;
    level++;
  }
  return k;
}

/* "source:line" into buf (size > 0), truncated as snprintf would. Done
** by hand: this runs for every view and every locked C buffer (each
** memobj.ffi buffer argument), and snprintf was most of its cost. */
static void putwhere(char *buf, size_t size, const char *src, int line) {
  char digits[12];
  int nd = 0;
  unsigned u = (unsigned)line;
  size_t n = strlen(src), room = size - 1;
  do {
    digits[nd++] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (n > room) n = room;
  memcpy(buf, src, n);
  if (n < room) buf[n++] = ':';
  while (nd > 0 && n < room) buf[n++] = digits[--nd];
  buf[n] = '\0';
}

void mo_where(lua_State *L, char *buf, size_t size) {
  lua_Debug ar;
  if (mo_where_level(L, 1, &ar) > 0) putwhere(buf, size, ar.short_src, ar.currentline);
  else snprintf(buf, size, "C code");
}
