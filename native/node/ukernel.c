/*
 * The GEMM micro-kernel, one source for every ISA: build.sh compiles it three times,
 *   -DVW=16 -mavx512f          (isa_avx512: 12 x 32 tile, 24 of 32 zmm registers accumulate)
 *   -DVW=8  -mavx2 -mfma       (isa_avx2:    6 x 16 tile, 12 of 16 ymm registers accumulate)
 *   -DVW=4  (x86-64 baseline)  (isa_sse2:    6 x  8 tile, 12 of 16 xmm registers accumulate)
 * and kernels.c picks one at run time (__builtin_cpu_supports). GCC's vector extensions give
 * the width; `acc += s * b` becomes a broadcast and one fused multiply-add where the ISA has it
 * (-ffp-contract=fast, GCC's default for GNU C).
 *
 * Why these tiles: each loaded B vector is reused by MR broadcasts and each broadcast by NR / VW
 * vectors; MR x NR / VW accumulators cover the FMA latency (4 cycles x 2 ports needs 8 or more
 * independent ones) and leave registers for the B vectors and a broadcast.
 */
#include <string.h>

#include "kernels.h"

#ifndef VW
#error "compile with -DVW=4, 8 or 16"
#endif

#if VW == 16
#define MR 12
#define ISA isa_avx512
#define ISA_NAME "avx512"
#elif VW == 8
#define MR 6
#define ISA isa_avx2
#define ISA_NAME "avx2"
#else
#define MR 6
#define ISA isa_sse2
#define ISA_NAME "sse2"
#endif
#define NV 2
#define NR (NV * VW)

/* aligned(4): B's panels and C's rows need not be vector-aligned (unaligned loads cost nothing here). */
typedef float vf __attribute__((vector_size(VW * 4), aligned(4)));
typedef int vi __attribute__((vector_size(VW * 4), aligned(4)));

static inline vf load(const float *p) { return *(const vf *)p; }
static inline void store(float *p, vf v) { *(vf *)p = v; }

static void ukernel(const tile_t *t) {
  vf acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) acc[i][v] = (vf){0};
  const float *b = t->b;
  for (int64_t tap = 0; tap < t->taps; tap++) {
    if (t->b_taps != NULL) b = t->b_taps[tap];
    const float *a[MR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) a[i] = t->a[tap * MR + i];
    for (int64_t l = 0; l < t->len; l++, b += NR) {
      vf b0 = load(b), b1 = load(b + VW);
#pragma GCC unroll 16
      for (int i = 0; i < MR; i++) {
        float s = a[i][l];
        acc[i][0] += s * b0;
        acc[i][1] += s * b1;
      }
    }
  }
  vf bias[NV] = {{0}, {0}};
  if (t->bias != NULL)
    for (int v = 0; v < NV; v++) bias[v] = load(t->bias + v * VW);
  if (t->nr == NR) {
    for (int i = 0; i < t->mr; i++) {
      float *c = t->c[i];
      for (int v = 0; v < NV; v++) {
        vf r = acc[i][v];
        if (t->accumulate) r += load(c + v * VW);
        r += bias[v];
        if (t->relu) r = (vf)((vi)r & (r > 0)); /* the compare gives all-ones lanes where r > 0 (NaN: 0) */
        store(c + v * VW, r);
      }
    }
  } else {
    /* A partial tile: through a buffer, so that no row is written past its nr columns. */
    for (int i = 0; i < t->mr; i++) {
      float row[NR];
      for (int v = 0; v < NV; v++) {
        vf r = acc[i][v] + bias[v];
        store(row + v * VW, r);
      }
      float *c = t->c[i];
      for (int64_t j = 0; j < t->nr; j++) {
        float r = row[j];
        if (t->accumulate) r += c[j];
        if (t->relu && !(r > 0)) r = 0;
        c[j] = r;
      }
    }
  }
}

const isa_t ISA = {ISA_NAME, MR, NR, ukernel};
