/*
** base.h: what every core file needs: branch hints, the
** counters and thread-local model, the object tags, the object layout
*/
#ifndef MO_BASE_H
#define MO_BASE_H

#include <signal.h>
#include <sys/types.h>
#include <lua.h>
#include <lauxlib.h>
#include "object.h"

#define MO_LIKELY(x) __builtin_expect(!!(x), 1)
#define MO_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Tags: the first word of every memobj userdata. Lua code cannot forge
** them, so a tag plus the userdata size identifies an object cheaply.
** The values in use are kept together here so that they never collide;
** which tags are views the runtime learns from mo_view_new (view.c). */
#define MO_TAG_MEM 0x4d454d4fu
#define MO_TAG_ARRAY 0x41525259u
#define MO_TAG_BYTES 0x42595453u
#define MO_TAG_FILE 0x46494c45u
#define MO_TAG_RECORDS 0x52454353u
#define MO_TAG_QUEUE 0x51554555u
#define MO_TAG_DICT 0x44494354u

/* Counters are relaxed atomic adds: objects exported to other Lua states
** are made and released in several threads at once (m:export), where
** plain loads and stores lost updates (stats counts went negative). */
#define MO_COUNT_ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
/* Thread-local state that the common paths read: the initial-exec model
** makes it one load instead of a __tls_get_addr call. */
#define MO_TLS _Thread_local __attribute__((tls_model("initial-exec")))

#endif
