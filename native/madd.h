/*
 * acc + a * b on four floats: f32x4.relaxed_madd in the relaxed-SIMD build (build.sh compiles the
 * module twice, the second time with -mrelaxed-simd -DRELAXED_MADD; the loader picks it where the
 * engine validates the instruction), a multiply then an add otherwise. The relaxed instruction may
 * round once (fused, where the CPU has FMA) or twice, so the two builds can differ in the last
 * bit; within one build and one machine results are the same for any thread count.
 */
#ifndef MADD_H
#define MADD_H
#include <wasm_simd128.h>

#ifdef RELAXED_MADD
#define MADD(a, b, acc) ((v128_t)__builtin_wasm_relaxed_madd_f32x4((__f32x4)(a), (__f32x4)(b), (__f32x4)(acc)))
#else
#define MADD(a, b, acc) wasm_f32x4_add((acc), wasm_f32x4_mul((a), (b)))
#endif

#endif
