-- tools/syscalls.lua: the system-call check of `make lint`. memobj
-- reaches the OS only through the OS layer (runtime/core/os.c and its table
-- of entries, doc/internals.md "The OS layer"), so that tests can replace
-- any call and the power-loss harness can record every write and sync.
-- This fails on a call of a listed system call in any other C file of
-- the library (comments and strings are skipped).
-- usage: lua5.4 tools/syscalls.lua FILE...   (exit status 1 on a call)
local CALLS = {}
for name in ([[open openat close fstat stat lstat fstatat flock fsync fdatasync
  ftruncate truncate fallocate posix_fallocate posix_fadvise rename renameat link
  linkat unlink unlinkat pread pwrite read write readv writev lseek dup dup2
  mmap munmap mremap mprotect madvise msync shm_open shm_unlink memfd_create
  fcntl fchmod chmod readlink realpath mkstemp mkostemp getpid fork statvfs
  fstatvfs syscall pthread_create pthread_join pthread_sigmask sigprocmask
  clock_nanosleep nanosleep]]):gmatch("%S+") do
  CALLS[name] = true
end
local OS_LAYER = {["runtime/os.c"] = true, ["runtime/core/os.c"] = true}

-- The code of a C file with comments, strings and character literals
-- blanked (newlines kept, so line numbers stay right).
local function code_of(src)
  local out, i, n = {}, 1, #src
  while i <= n do
    local c2 = src:sub(i, i + 1)
    local c = src:sub(i, i)
    if c2 == "/*" then
      local e = src:find("*/", i + 2, true) or n - 1
      out[#out + 1] = src:sub(i, e + 1):gsub("[^\n]", " ")
      i = e + 2
    elseif c2 == "//" then
      local e = src:find("\n", i, true) or n + 1
      i = e
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n and src:sub(j, j) ~= c do
        if src:sub(j, j) == "\\" then j = j + 1 end
        j = j + 1
      end
      out[#out + 1] = c .. (" "):rep(j - i - 1) .. c
      i = j + 1
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return table.concat(out)
end

local bad = 0
for _, file in ipairs(arg) do
  if file:match("%.c$") and not OS_LAYER[file] then
    local f = assert(io.open(file))
    local code = code_of(f:read("a"))
    f:close()
    local line = 1
    for l in (code .. "\n"):gmatch("([^\n]*)\n") do
      -- a call: a whole name followed by '(', not a member ('.', '->')
      for at, name in l:gmatch("()%f[%w_]([%a_][%w_]*)%s*%(") do
        local before = l:sub(1, at - 1):match("(%S?)%s*$")
        if CALLS[name] and before ~= "." and before ~= ">" then
          io.stderr:write(("%s:%d: %s() outside the OS layer (use runtime/core/os.h)\n")
            :format(file, line, name))
          bad = bad + 1
        end
      end
      line = line + 1
    end
  end
end
if bad > 0 then os.exit(1) end
print(("system calls: only through the OS layer (%d files)"):format(#arg))
