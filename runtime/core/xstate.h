/*
** xstate.h: memory shared between Lua states in threads of one process
** (m:export, memobj.import). An exported object's bytes belong to a
** process-wide record, the "core" below, that every state's memory
** object over them points to (m->x): it counts the objects (the bytes are
** freed by the last one released, in whichever thread), the views of
** every state (atomic counts), and whether a transaction is open.
*/
#ifndef MO_XSTATE_H
#define MO_XSTATE_H

#include "base.h"

/* Kind k may be exported; why(m) says NULL, or why this object may not
** (called by the kind's opener; kinds never named stay in their state).
** Exported, the kind's release runs on a copy of its object, in
** whichever thread lets go last. */
void mo_x_exportable(const memobj_kind *k, const char *(*why)(memobj_mem *m));
/* (why must not be NULL) */
/* A view was attached (delta 1) or detached (-1) in this state. */
void mo_x_lockdelta(memobj_mem *m, int write, int delta);
/* Views attached to the same bytes in other states. */
unsigned mo_x_others(const memobj_mem *m);
/* Views attached in every state. */
unsigned mo_x_total(const memobj_mem *m);
/* This state lets go of the bytes (release of m); the last one frees. */
void mo_x_release(memobj_mem *m);
/* A transaction begins on m: NULL, or why not (imported into another
** state). mo_x_txend when it ends. */
const char *mo_x_txbegin(memobj_mem *m);
void mo_x_txend(memobj_mem *m);
/* m:export and memobj.import (module table at the top). */
void mo_xstate_open(lua_State *L);

#endif
