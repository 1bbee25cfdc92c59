/*
** crc32c_sw.c: the software CRC-32C of memobj/crc32c.c (the path of CPUs
** without SSE4.2, every non-x86 one) against the known check value, the
** bitwise definition and the hardware path where there is one, from
** several threads that all start on a cold table. Its table must be a
** constant (issue 20: it was filled on first use without a barrier, a
** race off x86): this file does not compile while it is not.
** Usage: crc32c_sw. Exit status 0 when every check held.
*/
#include <pthread.h>
#include <stdio.h>
#include "../../memobj/crc32c.c"

_Static_assert(_Generic(&table, const uint32_t(*)[256]: 1, default: 0),
               "the CRC-32C table must be a constant");

static uint32_t bitwise(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  int k;
  while (n--) {
    c ^= *p++;
    for (k = 0; k < 8; k++) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
  }
  return ~c;
}

static unsigned char buf[8192];
static int bad;

static void *worker(void *arg) {
  size_t n;
  (void)arg;
  for (n = 0; n < sizeof buf; n += 97) {
    uint32_t want = bitwise(buf, n);
    if (~sw_extend(0xffffffffu, buf, n) != want ||
        (have_hw() && ~hw_extend(0xffffffffu, buf, n) != want))
      __atomic_store_n(&bad, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

int main(void) {
  pthread_t t[4];
  size_t i;
  for (i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 131 + 7);
  for (i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, NULL);
  for (i = 0; i < 4; i++) pthread_join(t[i], NULL);
  if (~sw_extend(0xffffffffu, (const unsigned char *)"123456789", 9) !=
      0xe3069283u) {
    puts("crc32c: wrong check value");
    return 1;
  }
  if (bad) {
    puts("crc32c: the software path differs from the definition");
    return 1;
  }
  printf("crc32c: ok (%s path compared too)\n", have_hw() ? "hardware" : "no hardware");
  return 0;
}
