/*
** crc32c.h: CRC-32C (Castagnoli), the checksum of pool headers, log
** records and data pages (doc/format.md). SSE4.2 when the CPU has it.
*/
#ifndef MO_CRC32C_H
#define MO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue the CRC `crc` (0 to start) over n bytes. */
uint32_t mo_crc32c_extend(uint32_t crc, const void *p, size_t n);
/* The CRC of n bytes. */
uint32_t mo_crc32c(const void *p, size_t n);
/* The CRC of a 4096-byte page whose first n bytes are at p and whose
** other bytes count as zero (the last page of a pool's data). */
uint32_t mo_crc32c_page(const void *p, size_t n);

/* The CRCs of n whole 4096-byte pages from p, into out[0..n). */
void mo_crc32c_pages(const void *p, size_t n, uint32_t *out);

#endif
