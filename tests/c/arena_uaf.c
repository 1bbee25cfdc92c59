/*
** arena_uaf.c: a use after free inside an arena must still be reported by
** the memory checkers: built with -fsanitize=address (ASan poisoning) and
** run plain under valgrind (mempool client requests). It writes into a
** freed block whose page stays in use; "not caught" means it was not.
*/
#include <stdio.h>
#include "../../runtime/tools/arena.h"

int main(void) {
  mo_arena *h = mo_arena_new();
  char *keep, *p;
  if (h == NULL) return 2;
  keep = mo_arena_malloc(h, 40);  /* keeps the page in use */
  p = mo_arena_malloc(h, 40);
  mo_arena_free(h, p);
  p[3] = 1;
  puts("not caught");
  mo_arena_free(h, keep);
  mo_arena_delete(h);
  return 0;
}
