/*
** crc32c.c: CRC-32C. The SSE4.2 instruction computes the same
** polynomial as the table; it is used when the CPU has it (a page costs
** about 0.5 us instead of 8), which keeps per-page checksums off the
** commit's cost.
*/
#include <string.h>
#include "crc32c.h"

/* The table of the software path, computed by the compiler: a constant,
** so threads share it with nothing to initialise (a table filled on
** first use needs a barrier off x86). T1 is one step of the bitwise
** algorithm (reflected polynomial 0x82f63b78), T8 a byte's eight. */
#define T1(r) (((r) >> 1) ^ (0x82f63b78u & (0u - ((r) & 1u))))
#define T2(r) T1(T1(r))
#define T8(r) T2(T2(T2(T2(r))))
#define R4(i) T8((i) + 0u), T8((i) + 1u), T8((i) + 2u), T8((i) + 3u)
#define R16(i) R4(i), R4(i + 4u), R4(i + 8u), R4(i + 12u)
#define R64(i) R16(i), R16(i + 16u), R16(i + 32u), R16(i + 48u)
static const uint32_t table[256] = {R64(0), R64(64), R64(128), R64(192)};
#undef T1
#undef T2
#undef T8
#undef R4
#undef R16
#undef R64

static uint32_t sw_extend(uint32_t c, const unsigned char *p, size_t n) {
  while (n--) c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("sse4.2")))
static uint32_t hw_extend(uint32_t c, const unsigned char *p, size_t n) {
  uint64_t c64 = c;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c64 = __builtin_ia32_crc32di(c64, w);
    p += 8;
    n -= 8;
  }
  c = (uint32_t)c64;
  while (n--) c = __builtin_ia32_crc32qi(c, *p++);
  return c;
}

/* Three pages at once: the instruction's latency is three times its
** throughput, so three independent checksums cost about one. */
__attribute__((target("sse4.2")))
static void hw_pages3(const unsigned char *p, uint32_t *out) {
  uint64_t a = 0xffffffffu, b = 0xffffffffu, c = 0xffffffffu, x, y, z;
  size_t i;
  for (i = 0; i < 4096; i += 8) {
    memcpy(&x, p + i, 8);
    memcpy(&y, p + 4096 + i, 8);
    memcpy(&z, p + 8192 + i, 8);
    a = __builtin_ia32_crc32di(a, x);
    b = __builtin_ia32_crc32di(b, y);
    c = __builtin_ia32_crc32di(c, z);
  }
  out[0] = ~(uint32_t)a;
  out[1] = ~(uint32_t)b;
  out[2] = ~(uint32_t)c;
}

/* 0: not known yet, 1: no, 2: yes. One atomic word: a thread sees the
** answer or asks the CPU itself (racing first calls store the same). */
static int have_hw(void) {
  static int known;
  int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
  if (k == 0) {
    __builtin_cpu_init();
    k = __builtin_cpu_supports("sse4.2") ? 2 : 1;
    __atomic_store_n(&known, k, __ATOMIC_RELAXED);
  }
  return k == 2;
}
#else
static uint32_t hw_extend(uint32_t c, const unsigned char *p, size_t n) {
  return sw_extend(c, p, n);
}
static void hw_pages3(const unsigned char *p, uint32_t *out) {
  (void)p;
  (void)out;
}

static int have_hw(void) { return 0; }
#endif

uint32_t mo_crc32c_extend(uint32_t crc, const void *p, size_t n) {
  uint32_t c = ~crc;
  c = have_hw() ? hw_extend(c, (const unsigned char *)p, n)
                : sw_extend(c, (const unsigned char *)p, n);
  return ~c;
}

uint32_t mo_crc32c(const void *p, size_t n) {
  return mo_crc32c_extend(0, p, n);
}

uint32_t mo_crc32c_page(const void *p, size_t n) {
  static const unsigned char zeros[4096];
  uint32_t c;
  if (n > 4096) n = 4096;
  c = mo_crc32c_extend(0, p, n);
  return n < 4096 ? mo_crc32c_extend(c, zeros, 4096 - n) : c;
}

void mo_crc32c_pages(const void *p, size_t n, uint32_t *out) {
  const unsigned char *b = (const unsigned char *)p;
  size_t i = 0;
  if (have_hw())
    for (; i + 3 <= n; i += 3) hw_pages3(b + i * 4096, out + i);
  for (; i < n; i++) out[i] = mo_crc32c(b + i * 4096, 4096);
}
