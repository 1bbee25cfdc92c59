/*
** core.h: the umbrella header of memobj's object core (runtime/core/),
** what memory kinds, access kinds and bindings include. Each topic has
** its own header; doc/internals.md draws the layers.
*/
#ifndef MO_CORE_H
#define MO_CORE_H

#include "core/base.h"   /* hints, counters, tags, the object layout */
#include "core/args.h"   /* argument helpers and the two error channels */
#include "core/type.h"   /* identity by metatable, scratch space */
#include "core/mem.h"    /* memory objects, the write guard */
#include "core/where.h"  /* where was this made: the one recorder */
#include "core/lock.h"   /* locks */
#include "core/view.h"   /* the view base, byte sources */
#include "core/pin.h"    /* call-scope pins */
#include "core/fault.h"  /* lost pages of mapped files */
#include "core/kinds.h"  /* the kind registry, the C-API table */
#include "core/method.h" /* declared view methods, the trampoline */

#endif
