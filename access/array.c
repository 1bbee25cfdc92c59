#include "../runtime/core.h"
void mo_array_open(lua_State *L) { (void)L; }
