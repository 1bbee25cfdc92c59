/*
** cppcheck.h: included first by make lint's cppcheck run (which does not
** read the Lua headers): the Lua error functions do not return, they
** longjmp, so cppcheck must not follow a path past them.
*/
typedef struct lua_State lua_State;
__attribute__((noreturn)) int lua_error(lua_State *L);
__attribute__((noreturn)) int luaL_error(lua_State *L, const char *fmt, ...);
__attribute__((noreturn)) int luaL_argerror(lua_State *L, int arg, const char *extramsg);
__attribute__((noreturn)) int luaL_typeerror(lua_State *L, int arg, const char *tname);
