/*
 * Convolutions and matmuls as indirect GEMMs over the micro-kernel of the ISA in use (ukernel.c).
 * Row tiles go to the pool's threads; weights are packed once per call, tap by tap, NR output
 * channels to a panel (zero-padded), so the micro-kernel reads them as whole vectors.
 */
#include "ops.h"

#include <stdlib.h>
#include <string.h>

#include "pool.h"

#define MR_MAX 16
/* Row tiles per task: enough tasks (several per thread) for the dynamic schedule to even out. */
#define TASKS_PER_THREAD 8

static const isa_t *current = NULL;

int ops_isa_supported(const isa_t *isa) {
  __builtin_cpu_init();
#ifdef DIGIT_EMULATED_AVX512
  /* A test build (build.sh --emulated-avx512): the 16-wide path compiled for AVX2. */
  if (isa == &isa_avx512) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  if (isa == &isa_avx512) return __builtin_cpu_supports("avx512f");
#endif
  if (isa == &isa_avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return isa == &isa_sse2;
}

int ops_select_isa(const char *name) {
  const isa_t *all[] = {&isa_avx512, &isa_avx2, &isa_sse2};
  for (int i = 0; i < 3; i++) {
    if (name != NULL && strcmp(name, all[i]->name) != 0) continue;
    if (!ops_isa_supported(all[i])) {
      if (name != NULL) return -1;
      continue;
    }
    current = all[i];
    return 0;
  }
  return -1;
}

const isa_t *ops_isa(void) {
  if (current == NULL) ops_select_isa(NULL);
  return current;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

static float *alloc_floats(int64_t n) {
  size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) & ~(size_t)63;
  return aligned_alloc(64, bytes);
}
static float *zeroed_floats(int64_t n) {
  float *p = alloc_floats(n);
  if (p != NULL) memset(p, 0, (size_t)(n > 0 ? n : 1) * sizeof(float));
  return p;
}

/* Tiles per task so that the tiles make about TASKS_PER_THREAD tasks per thread. */
static int64_t tiles_per_task(int64_t tiles) {
  int64_t per = tiles / ((int64_t)pool_threads() * TASKS_PER_THREAD);
  return per < 1 ? 1 : per;
}

/* ---- forward convolution: rows are output pixels, taps the filter's KH x KW, L = Ci ---- */

typedef struct {
  const conv_t *g;
  const isa_t *isa;
  const float *x, *packed, *bias, *zero;
  float *y;
  int relu;
  const float **ptrs; /* T * MR per thread */
  float *patches;     /* MR * T * Ci per thread, when gathering */
  int64_t tiles, per_task;
} fwd_ctx;

/*
 * With few input channels (a first layer's one), a tap's run is a float or two and walking the
 * taps costs more than the multiplications: such tiles gather their patches into contiguous rows
 * first (im2col for one tile, in L1) and run as one tap of KH * KW * Ci. The packed weights are
 * the same either way.
 */
#define GATHER_BELOW 8

static void fwd_task(void *vctx, int64_t task, int thread) {
  const fwd_ctx *c = vctx;
  const conv_t *g = c->g;
  const int mr_full = c->isa->mr, nr = c->isa->nr;
  const int64_t taps = g->k_h * g->k_w, pixels = g->out_h * g->out_w, rows = g->batch * pixels;
  const float **a = c->ptrs + (int64_t)thread * taps * mr_full;
  float *out[MR_MAX], *shifted[MR_MAX];
  const int64_t end = min64(c->tiles, (task + 1) * c->per_task);
  for (int64_t tile = task * c->per_task; tile < end; tile++) {
    const int64_t m0 = tile * mr_full, mr = min64(mr_full, rows - m0);
    /* The tile's first pixel by division, the rest by counting: 64-bit divisions per row cost
       more than a first layer's multiplications. */
    int64_t n = m0 / pixels, oh = (m0 % pixels) / g->out_w, ow = m0 % g->out_w;
    for (int i = 0; i < mr_full; i++, ow++) {
      if (i >= mr) {
        for (int64_t t = 0; t < taps; t++) a[t * mr_full + i] = c->zero;
        continue;
      }
      if (ow == g->out_w) {
        ow = 0;
        if (++oh == g->out_h) {
          oh = 0;
          n++;
        }
      }
      const int64_t m = m0 + i;
      out[i] = c->y + m * g->out_c;
      const int64_t iw0 = ow * g->stride_w - g->pad_left;
      /* A pixel whose taps all lie inside the row needs no per-tap column check. */
      const int columns_inside = iw0 >= 0 && iw0 + g->k_w <= g->in_w;
      for (int64_t kh = 0; kh < g->k_h; kh++) {
        const int64_t ih = oh * g->stride_h + kh - g->pad_top;
        const float **at = a + kh * g->k_w * mr_full + i;
        if (ih < 0 || ih >= g->in_h) {
          for (int64_t kw = 0; kw < g->k_w; kw++) at[kw * mr_full] = c->zero;
          continue;
        }
        const float *row = c->x + ((n * g->in_h + ih) * g->in_w + iw0) * g->in_c;
        if (columns_inside) {
          for (int64_t kw = 0; kw < g->k_w; kw++) at[kw * mr_full] = row + kw * g->in_c;
          continue;
        }
        for (int64_t kw = 0; kw < g->k_w; kw++) {
          const int64_t iw = iw0 + kw;
          at[kw * mr_full] = iw >= 0 && iw < g->in_w ? row + kw * g->in_c : c->zero;
        }
      }
    }
    int64_t tile_taps = taps, tile_len = g->in_c;
    if (c->patches != NULL) {
      const int64_t k = taps * g->in_c;
      float *patch = c->patches + (int64_t)thread * mr_full * k;
      for (int i = 0; i < mr_full; i++) {
        for (int64_t t = 0; t < taps; t++)
          for (int64_t ci = 0; ci < g->in_c; ci++) patch[i * k + t * g->in_c + ci] = a[t * mr_full + i][ci];
        a[i] = patch + i * k; /* the first MR pointers now name whole rows */
      }
      tile_taps = 1;
      tile_len = k;
    }
    for (int64_t p = 0; p * nr < g->out_c; p++) {
      for (int i = 0; i < mr; i++) shifted[i] = out[i] + p * nr;
      tile_t t = {tile_taps, tile_len, a, c->packed + p * taps * g->in_c * nr, NULL, shifted, mr, min64(nr, g->out_c - p * nr),
                  0, c->bias != NULL ? c->bias + p * nr : NULL, c->relu};
      c->isa->ukernel(&t);
    }
  }
}

int conv2d(const conv_t *g, const float *x, const float *w, const float *bias, int relu, float *y) {
  const isa_t *isa = ops_isa();
  const int nr = isa->nr;
  const int64_t taps = g->k_h * g->k_w, panels = ceil_div(g->out_c, nr), rows = g->batch * g->out_h * g->out_w;
  float *packed = alloc_floats(panels * taps * g->in_c * nr);
  float *packed_bias = bias != NULL ? zeroed_floats(panels * nr) : NULL;
  float *zero = zeroed_floats(g->in_c);
  const float **ptrs = malloc(sizeof(float *) * (size_t)(pool_threads() * taps * isa->mr));
  float *patches = g->in_c < GATHER_BELOW ? alloc_floats(pool_threads() * isa->mr * taps * g->in_c) : NULL;
  int status = -1;
  if (packed == NULL || zero == NULL || ptrs == NULL || (bias != NULL && packed_bias == NULL)) goto out;
  if (g->in_c < GATHER_BELOW && patches == NULL) goto out;
  for (int64_t p = 0; p < panels; p++)
    for (int64_t k = 0; k < taps * g->in_c; k++)
      for (int j = 0; j < nr; j++) {
        const int64_t o = p * nr + j;
        packed[(p * taps * g->in_c + k) * nr + j] = o < g->out_c ? w[k * g->out_c + o] : 0.0f;
      }
  if (bias != NULL) memcpy(packed_bias, bias, sizeof(float) * (size_t)g->out_c);
  const int64_t tiles = ceil_div(rows, isa->mr), per = tiles_per_task(tiles);
  fwd_ctx ctx = {g, isa, x, packed, packed_bias, zero, y, relu, ptrs, patches, tiles, per};
  pool_run(ceil_div(tiles, per), fwd_task, &ctx);
  status = 0;
out:
  free(packed);
  free(packed_bias);
  free(zero);
  free(ptrs);
  free(patches);
  return status;
}

/*
 * ---- input gradient: rows are input pixels, L = Co ----
 * dx[n, ih, iw] sums dy[n, oh, ow] W[kh, kw]ᵀ over the taps with ih = oh * sh + kh - pad_top (and
 * likewise across). With a stride, which taps reach a pixel depends on its phase (ih mod sh,
 * iw mod sw), so the rows go phase by phase, each with its own tap list and packed weights: no
 * multiplication by an inserted zero (the sub-pixel decomposition, done in the indexing).
 */

typedef struct {
  int64_t ph, pw, hq, wq, rows, tiles, first_task;
  int64_t taps;
  int64_t *tap_h, *tap_w; /* at most ceil(KH / sh) x ceil(KW / sw) taps */
  float *packed;
} phase_t;

typedef struct {
  const conv_t *g;
  const isa_t *isa;
  const float *dy, *zero;
  float *dx;
  phase_t *phases;
  int64_t phase_count, per_task;
  const float **ptrs;
} dx_ctx;

static void dx_task(void *vctx, int64_t task, int thread) {
  const dx_ctx *c = vctx;
  const conv_t *g = c->g;
  const int mr_full = c->isa->mr, nr = c->isa->nr;
  const phase_t *ph = c->phases;
  while (ph + 1 < c->phases + c->phase_count && (ph + 1)->first_task <= task) ph++;
  const int64_t kk = g->k_h * g->k_w;
  const float **a = c->ptrs + (int64_t)thread * kk * (mr_full + 2);
  const float **b_taps = a + kk * mr_full;
  int64_t *kept = (int64_t *)(b_taps + kk);
  float *out[MR_MAX], *shifted[MR_MAX];
  const int64_t first = (task - ph->first_task) * c->per_task, end = min64(ph->tiles, first + c->per_task);
  const int64_t per_image = ph->hq * ph->wq;
  for (int64_t tile = first; tile < end; tile++) {
    const int64_t r0 = tile * mr_full, mr = min64(mr_full, ph->rows - r0);
    for (int i = 0; i < mr_full; i++) {
      if (i >= mr) {
        for (int64_t t = 0; t < ph->taps; t++) a[t * mr_full + i] = c->zero;
        continue;
      }
      const int64_t r = r0 + i, n = r / per_image;
      const int64_t ih = ph->ph + g->stride_h * ((r % per_image) / ph->wq), iw = ph->pw + g->stride_w * (r % ph->wq);
      out[i] = c->dx + ((n * g->in_h + ih) * g->in_w + iw) * g->in_c;
      for (int64_t t = 0; t < ph->taps; t++) {
        const int64_t dh = ih + g->pad_top - ph->tap_h[t], dw = iw + g->pad_left - ph->tap_w[t];
        const int64_t oh = dh / g->stride_h, ow = dw / g->stride_w;
        const int inside = dh >= 0 && dw >= 0 && oh < g->out_h && ow < g->out_w;
        a[t * mr_full + i] = inside ? c->dy + ((n * g->out_h + oh) * g->out_w + ow) * g->out_c : c->zero;
      }
    }
    /* Taps that reach no row of the tile (dy's border, a 'full' correlation's padding) are left
       out: their rows would all be the zero row. */
    int64_t used = 0;
    for (int64_t t = 0; t < ph->taps; t++) {
      int any = 0;
      for (int i = 0; i < mr_full; i++) any |= a[t * mr_full + i] != c->zero;
      if (!any) continue;
      if (used != t)
        for (int i = 0; i < mr_full; i++) a[used * mr_full + i] = a[t * mr_full + i];
      kept[used++] = t;
    }
    for (int64_t p = 0; p * nr < g->in_c; p++) {
      for (int i = 0; i < mr; i++) shifted[i] = out[i] + p * nr;
      const float *panel = ph->packed + p * ph->taps * g->out_c * nr;
      for (int64_t u = 0; u < used; u++) b_taps[u] = panel + kept[u] * g->out_c * nr;
      tile_t t = {used, g->out_c, a, panel, b_taps, shifted, mr, min64(nr, g->in_c - p * nr), 0, NULL, 0};
      c->isa->ukernel(&t);
    }
  }
}

static int64_t mod(int64_t a, int64_t m) { return ((a % m) + m) % m; }

/*
 * dx as cols = dy · Wᵀ (a matmul, [pixels of dy, KH * KW * Ci]) and a scatter-add of cols into dx,
 * a chunk of images at a time. Taken where the row-pointer form wastes its work: when most taps of
 * an input pixel fall outside dy (a head whose output is 1x1: one tap in KH * KW reaches each
 * pixel), or when Ci fills a small part of a column panel (a first layer's one channel).
 */
typedef struct {
  const conv_t *g;
  const float *cols;
  float *dx;
  int64_t first_image;
} scatter_ctx;

static void scatter_task(void *vctx, int64_t task, int thread) {
  (void)thread;
  const scatter_ctx *c = vctx;
  const conv_t *g = c->g;
  const int64_t n = c->first_image + task, k = g->k_h * g->k_w * g->in_c;
  float *dx = c->dx + n * g->in_h * g->in_w * g->in_c;
  for (int64_t i = 0; i < g->in_h * g->in_w * g->in_c; i++) dx[i] = 0.0f;
  for (int64_t oh = 0; oh < g->out_h; oh++)
    for (int64_t ow = 0; ow < g->out_w; ow++) {
      const float *col = c->cols + ((task * g->out_h + oh) * g->out_w + ow) * k;
      for (int64_t kh = 0; kh < g->k_h; kh++) {
        const int64_t ih = oh * g->stride_h + kh - g->pad_top;
        if (ih < 0 || ih >= g->in_h) continue;
        for (int64_t kw = 0; kw < g->k_w; kw++) {
          const int64_t iw = ow * g->stride_w + kw - g->pad_left;
          if (iw < 0 || iw >= g->in_w) continue;
          float *to = dx + (ih * g->in_w + iw) * g->in_c;
          const float *from = col + (kh * g->k_w + kw) * g->in_c;
          for (int64_t ci = 0; ci < g->in_c; ci++) to[ci] += from[ci];
        }
      }
    }
}

static int backprop_input_col2im(const conv_t *g, const float *dy, const float *w, float *dx) {
  const int64_t k = g->k_h * g->k_w * g->in_c, per_image = g->out_h * g->out_w * k;
  /* about 4 Mi floats of cols at a time */
  int64_t images = ((int64_t)1 << 22) / per_image;
  images = images < 1 ? 1 : images > g->batch ? g->batch : images;
  float *cols = alloc_floats(images * per_image);
  if (cols == NULL) return -1;
  for (int64_t n0 = 0; n0 < g->batch; n0 += images) {
    const int64_t count = min64(images, g->batch - n0), rows = count * g->out_h * g->out_w;
    const float *dy0 = dy + n0 * g->out_h * g->out_w * g->out_c;
    if (matmul(1, rows, k, g->out_c, dy0, 0, 0, w, 0, 1, cols) != 0) {
      free(cols);
      return -1;
    }
    scatter_ctx ctx = {g, cols, dx, n0};
    pool_run(count, scatter_task, &ctx);
  }
  free(cols);
  return 0;
}

int conv2d_backprop_input(const conv_t *g, const float *dy, const float *w, float *dx) {
  const isa_t *isa = ops_isa();
  /* useful taps over the taps the row-pointer form walks (every tap of every phase of every pixel) */
  const double reach = (double)(g->out_h * g->out_w) * (double)(g->stride_h * g->stride_w) / (double)(g->in_h * g->in_w);
  if (reach < 0.5 || 2 * g->in_c <= isa->nr) return backprop_input_col2im(g, dy, w, dx);
  const int nr = isa->nr;
  const int64_t sh = g->stride_h, sw = g->stride_w, panels = ceil_div(g->in_c, nr);
  const int64_t phase_count = sh * sw;
  phase_t *phases = calloc((size_t)phase_count, sizeof(phase_t));
  float *zero = zeroed_floats(g->out_c);
  /* per thread: the tile's row pointers, its kept taps' weight blocks and their indices (as wide as a pointer) */
  const float **ptrs = malloc(sizeof(float *) * (size_t)(pool_threads() * g->k_h * g->k_w * (isa->mr + 2)));
  int status = -1;
  if (phases == NULL || zero == NULL || ptrs == NULL) goto out;
  int64_t tiles = 0;
  for (int64_t q = 0; q < phase_count; q++) {
    phase_t *ph = &phases[q];
    ph->ph = q / sw;
    ph->pw = q % sw;
    ph->hq = g->in_h > ph->ph ? ceil_div(g->in_h - ph->ph, sh) : 0;
    ph->wq = g->in_w > ph->pw ? ceil_div(g->in_w - ph->pw, sw) : 0;
    ph->rows = g->batch * ph->hq * ph->wq;
    ph->tiles = ceil_div(ph->rows, isa->mr);
    tiles += ph->tiles;
    ph->tap_h = malloc(sizeof(int64_t) * (size_t)(g->k_h * g->k_w));
    ph->tap_w = malloc(sizeof(int64_t) * (size_t)(g->k_h * g->k_w));
    if (ph->tap_h == NULL || ph->tap_w == NULL) goto out;
    for (int64_t kh = mod(ph->ph + g->pad_top, sh); kh < g->k_h; kh += sh)
      for (int64_t kw = mod(ph->pw + g->pad_left, sw); kw < g->k_w; kw += sw) {
        ph->tap_h[ph->taps] = kh;
        ph->tap_w[ph->taps] = kw;
        ph->taps++;
      }
    ph->packed = alloc_floats(panels * ph->taps * g->out_c * nr);
    if (ph->packed == NULL) goto out;
    for (int64_t p = 0; p < panels; p++)
      for (int64_t t = 0; t < ph->taps; t++)
        for (int64_t o = 0; o < g->out_c; o++)
          for (int j = 0; j < nr; j++) {
            const int64_t ci = p * nr + j;
            const int64_t from = ((ph->tap_h[t] * g->k_w + ph->tap_w[t]) * g->in_c + ci) * g->out_c + o;
            ph->packed[((p * ph->taps + t) * g->out_c + o) * nr + j] = ci < g->in_c ? w[from] : 0.0f;
          }
  }
  const int64_t per = tiles_per_task(tiles);
  int64_t tasks = 0;
  for (int64_t q = 0; q < phase_count; q++) {
    phases[q].first_task = tasks;
    tasks += ceil_div(phases[q].tiles, per);
  }
  dx_ctx ctx = {g, isa, dy, zero, dx, phases, phase_count, per, ptrs};
  pool_run(tasks, dx_task, &ctx);
  status = 0;
out:
  if (phases != NULL)
    for (int64_t q = 0; q < phase_count; q++) {
      free(phases[q].packed);
      free(phases[q].tap_h);
      free(phases[q].tap_w);
    }
  free(phases);
  free(zero);
  free(ptrs);
  return status;
}

/*
 * ---- filter gradient: dWᵀ [Co, KH*KW*Ci] = dyᵀ · patches, rows Co, the sum over pixels ----
 * Pixels go in chunks of `chunk`; a chunk's dy is transposed (a row per output channel: the
 * micro-kernel's row pointers) and its patches are packed NR columns to a panel, straight from x
 * in runs of Ci floats. This way the patches, the large operand, are copied in contiguous runs;
 * only the small dy is transposed.
 *
 * The chunks are split into a fixed number of parts (DW_PARTS, however many threads there are),
 * each summed in order into its own dWᵀ, and the parts added up in order at the end: the sums, and
 * so the weights a training run ends with, are the same bits on 1 thread or 16, run after run.
 */
#define DW_PARTS 16

typedef struct {
  const conv_t *g;
  const isa_t *isa;
  const float *x, *dy;
  int64_t chunk, pixels, chunks, parts, k, kpad;
  float *scratch; /* per thread: dyT [Co][chunk], zero [chunk], panels [kpad / NR][chunk][NR] */
  int64_t scratch_floats;
  float *partials; /* per part: dWᵀ [Co][kpad] */
} dw_ctx;

static void dw_chunk(const dw_ctx *c, int64_t index, float *dyt, float *partial) {
  const conv_t *g = c->g;
  const int mr_full = c->isa->mr, nr = c->isa->nr;
  const int64_t chunk = c->chunk, p0 = index * chunk, len = min64(chunk, c->pixels - p0);
  const float *zero = dyt + g->out_c * chunk;
  float *panels = dyt + (g->out_c + 1) * chunk;
  for (int64_t l = 0; l < len; l++) {
    const float *src = c->dy + (p0 + l) * g->out_c;
    for (int64_t o = 0; o < g->out_c; o++) dyt[o * chunk + l] = src[o];
  }
  const int64_t per_image = g->out_h * g->out_w;
  int64_t n = p0 / per_image, oh = (p0 % per_image) / g->out_w, ow = p0 % g->out_w;
  for (int64_t l = 0; l < len; l++, ow++) {
    if (ow == g->out_w) { /* counted, not divided: see fwd_task */
      ow = 0;
      if (++oh == g->out_h) {
        oh = 0;
        n++;
      }
    }
    int64_t k = 0;
    for (int64_t kh = 0; kh < g->k_h; kh++) {
      const int64_t ih = oh * g->stride_h + kh - g->pad_top;
      for (int64_t kw = 0; kw < g->k_w; kw++) {
        const int64_t iw = ow * g->stride_w + kw - g->pad_left;
        const int inside = ih >= 0 && ih < g->in_h && iw >= 0 && iw < g->in_w;
        const float *src = inside ? c->x + ((n * g->in_h + ih) * g->in_w + iw) * g->in_c : NULL;
        for (int64_t ci = 0; ci < g->in_c;) {
          /* the run of this tap's channels that falls in one panel */
          const int64_t q = k / nr, j = k % nr, run = min64(nr - j, g->in_c - ci);
          float *dst = panels + (q * chunk + l) * nr + j;
          /* a plain loop, not memcpy: runs are often a float or two (a first layer's taps) */
          if (src != NULL)
            for (int64_t r = 0; r < run; r++) dst[r] = src[ci + r];
          else
            for (int64_t r = 0; r < run; r++) dst[r] = 0.0f;
          ci += run;
          k += run;
        }
      }
    }
  }
  const float *a[MR_MAX];
  float *rows[MR_MAX];
  for (int64_t q = 0; q * nr < c->k; q++)
    for (int64_t o0 = 0; o0 < g->out_c; o0 += mr_full) {
      const int64_t mr = min64(mr_full, g->out_c - o0);
      for (int i = 0; i < mr_full; i++) {
        a[i] = i < mr ? dyt + (o0 + i) * chunk : zero;
        if (i < mr) rows[i] = partial + (o0 + i) * c->kpad + q * nr;
      }
      tile_t t = {1, len, a, panels + q * chunk * nr, NULL, rows, mr, nr, 1, NULL, 0};
      c->isa->ukernel(&t);
    }
}

static void dw_task(void *vctx, int64_t part, int thread) {
  const dw_ctx *c = vctx;
  float *dyt = c->scratch + (int64_t)thread * c->scratch_floats;
  float *partial = c->partials + part * c->g->out_c * c->kpad;
  /* part `part` of `parts` takes an even, contiguous share of the chunks, in order */
  const int64_t first = part * c->chunks / c->parts, end = (part + 1) * c->chunks / c->parts;
  for (int64_t index = first; index < end; index++) dw_chunk(c, index, dyt, partial);
}

int conv2d_backprop_filter(const conv_t *g, const float *x, const float *dy, float *dw) {
  const isa_t *isa = ops_isa();
  const int nr = isa->nr;
  const int64_t k = g->k_h * g->k_w * g->in_c, kpad = ceil_div(k, nr) * nr;
  const int64_t pixels = g->batch * g->out_h * g->out_w;
  /* Chunks of 256 pixels: each ukernel call adds a chunk into the part's dWᵀ, read and written
     whole per chunk, so short chunks make a wide layer memory-bound (seed conv2's dWᵀ is 0.5 MB).
     The panels are streamed, one panel's chunk x NR floats hot at a time. Fewer pixels for a
     layer so wide that a chunk's panels would pass 16 MB. */
  int64_t chunk = ((int64_t)1 << 22) / kpad;
  chunk = chunk < 32 ? 32 : chunk > 256 ? 256 : chunk;
  const int64_t chunks = ceil_div(pixels, chunk), parts = chunks < DW_PARTS ? chunks : DW_PARTS;
  const int64_t per_thread = (g->out_c + 1) * chunk + kpad * chunk;
  float *scratch = zeroed_floats(per_thread * pool_threads());
  float *partials = zeroed_floats(parts * g->out_c * kpad);
  if (scratch == NULL || partials == NULL) {
    free(scratch);
    free(partials);
    return -1;
  }
  dw_ctx ctx = {g, isa, x, dy, chunk, pixels, chunks, parts, k, kpad, scratch, per_thread, partials};
  pool_run(parts, dw_task, &ctx);
  for (int64_t kk = 0; kk < k; kk++)
    for (int64_t o = 0; o < g->out_c; o++) {
      float s = 0;
      for (int64_t part = 0; part < parts; part++) s += partials[(part * g->out_c + o) * kpad + kk];
      dw[kk * g->out_c + o] = s;
    }
  free(scratch);
  free(partials);
  return 0;
}

/* ---- matmul: rows of a (transposed first if flagged), B packed NR columns to a panel ---- */

#define KC 256

/* A task: up to 16 row tiles by a group of panels, so each packed block of B is reused by every tile. */
#define MM_TILES 16

typedef struct {
  const isa_t *isa;
  int64_t m, n, k, tiles, panels, tile_groups, panel_groups, panels_per_group;
  const float *a;
  int64_t a_stride;
  const float *packed; /* per b batch: panels * k * nr */
  int64_t b_batches;
  float *c;
  const float *zero;
} mm_ctx;

static void mm_task(void *vctx, int64_t task, int thread) {
  (void)thread;
  const mm_ctx *c = vctx;
  const int mr_full = c->isa->mr, nr = c->isa->nr;
  const int64_t per_batch = c->tile_groups * c->panel_groups, batch = task / per_batch;
  const int64_t tg = (task % per_batch) / c->panel_groups, pg = task % c->panel_groups;
  const int64_t t0 = tg * MM_TILES, t1 = min64(c->tiles, t0 + MM_TILES);
  const int64_t p0 = pg * c->panels_per_group, p1 = min64(c->panels, p0 + c->panels_per_group);
  const float *a = c->a + batch * c->a_stride;
  const float *packed = c->packed + (c->b_batches > 1 ? batch : 0) * c->panels * c->k * nr;
  float *out = c->c + batch * c->m * c->n;
  const float *rows_a[MR_MAX];
  float *rows_c[MR_MAX];
  int64_t k0 = 0;
  do {
    const int64_t kc = min64(KC, c->k - k0);
    for (int64_t p = p0; p < p1; p++)
      for (int64_t tile = t0; tile < t1; tile++) {
        const int64_t m0 = tile * mr_full, mr = min64(mr_full, c->m - m0);
        for (int i = 0; i < mr_full; i++) {
          rows_a[i] = i < mr ? a + (m0 + i) * c->k + k0 : c->zero;
          if (i < mr) rows_c[i] = out + (m0 + i) * c->n + p * nr;
        }
        tile_t t = {1, kc, rows_a, packed + (p * c->k + k0) * nr, NULL, rows_c, mr, min64(nr, c->n - p * nr), k0 > 0, NULL, 0};
        c->isa->ukernel(&t);
      }
    k0 += KC;
  } while (k0 < c->k);
}

typedef struct {
  const float *src;
  float *dst;
  int64_t rows, cols, src_stride, dst_stride; /* dst[batch][c][r] = src[batch][r][c] */
} transpose_ctx;

static void transpose_task(void *vctx, int64_t task, int thread) {
  (void)thread;
  const transpose_ctx *c = vctx;
  const float *src = c->src + task * c->src_stride;
  float *dst = c->dst + task * c->dst_stride;
  /* 16 x 16 blocks keep both sides' cache lines in use */
  for (int64_t r0 = 0; r0 < c->rows; r0 += 16)
    for (int64_t c0 = 0; c0 < c->cols; c0 += 16)
      for (int64_t r = r0; r < min64(r0 + 16, c->rows); r++)
        for (int64_t cc = c0; cc < min64(c0 + 16, c->cols); cc++) dst[cc * c->rows + r] = src[r * c->cols + cc];
}

typedef struct {
  const float *b;
  int64_t b_stride, n, k, panels, nr;
  int trans_b;
  float *packed;
} pack_ctx;

static void pack_task(void *vctx, int64_t task, int thread) {
  (void)thread;
  const pack_ctx *c = vctx;
  const int64_t batch = task / c->panels, p = task % c->panels;
  const float *b = c->b + batch * c->b_stride;
  float *dst = c->packed + (batch * c->panels + p) * c->k * c->nr;
  const int64_t cols = min64(c->nr, c->n - p * c->nr);
  if (c->trans_b) {
    for (int64_t j = 0; j < cols; j++) {
      const float *src = b + (p * c->nr + j) * c->k;
      for (int64_t kk = 0; kk < c->k; kk++) dst[kk * c->nr + j] = src[kk];
    }
  }
  for (int64_t kk = 0; kk < c->k; kk++) {
    if (!c->trans_b) memcpy(dst + kk * c->nr, b + kk * c->n + p * c->nr, sizeof(float) * (size_t)cols);
    for (int64_t j = cols; j < c->nr; j++) dst[kk * c->nr + j] = 0.0f;
  }
}

int matmul(int64_t batch, int64_t m, int64_t n, int64_t k, const float *a, int64_t a_stride, int trans_a,
           const float *bm, int64_t b_stride, int trans_b, float *c) {
  const isa_t *isa = ops_isa();
  const int nr = isa->nr;
  const int64_t panels = ceil_div(n, nr);
  const int64_t a_batches = a_stride == 0 ? 1 : batch, b_batches = b_stride == 0 ? 1 : batch;
  float *packed = alloc_floats(b_batches * panels * k * nr);
  float *a_rows = trans_a ? alloc_floats(a_batches * m * k) : NULL;
  float *zero = zeroed_floats(k < KC ? KC : k);
  int status = -1;
  if (packed == NULL || zero == NULL || (trans_a && a_rows == NULL)) goto out;
  pack_ctx pc = {bm, b_stride, n, k, panels, nr, trans_b, packed};
  pool_run(b_batches * panels, pack_task, &pc);
  if (trans_a) {
    transpose_ctx tc = {a, a_rows, k, m, a_stride, m * k};
    pool_run(a_batches, transpose_task, &tc);
    a = a_rows;
    a_stride = a_stride == 0 ? 0 : m * k;
  }
  const int64_t tiles = ceil_div(m, isa->mr), tile_groups = ceil_div(tiles, MM_TILES);
  /* Few row tiles (a dense layer's batch): split the columns instead, for TASKS_PER_THREAD tasks a thread. */
  int64_t panel_groups = ceil_div((int64_t)pool_threads() * TASKS_PER_THREAD, tile_groups * batch);
  panel_groups = panel_groups > panels ? panels : panel_groups;
  const int64_t per_group = ceil_div(panels, panel_groups);
  panel_groups = ceil_div(panels, per_group);
  mm_ctx ctx = {isa, m, n, k, tiles, panels, tile_groups, panel_groups, per_group, a, a_stride, packed, b_batches, c, zero};
  pool_run(batch * tile_groups * panel_groups, mm_task, &ctx);
  status = 0;
out:
  free(packed);
  free(a_rows);
  free(zero);
  return status;
}

/* ---- per-channel scale and shift: memory-bound, so rows split between threads, plain loops ---- */

typedef struct {
  int64_t rows, channels, per_task;
  const float *x, *scale, *shift;
  float *y;
} scale_shift_ctx;

static void scale_shift_task(void *vctx, int64_t task, int thread) {
  (void)thread;
  const scale_shift_ctx *c = vctx;
  const int64_t end = min64(c->rows, (task + 1) * c->per_task);
  for (int64_t r = task * c->per_task; r < end; r++) {
    const float *x = c->x + r * c->channels;
    float *y = c->y + r * c->channels;
    for (int64_t ch = 0; ch < c->channels; ch++) y[ch] = x[ch] * c->scale[ch] + c->shift[ch];
  }
}

void scale_shift(int64_t rows, int64_t channels, const float *x, const float *scale, const float *shift, float *y) {
  /* tasks of about 16 Ki floats: enough to split, few enough that the pool's wake-up is noise */
  int64_t per_task = 16384 / channels;
  per_task = per_task < 1 ? 1 : per_task;
  scale_shift_ctx ctx = {rows, channels, per_task, x, scale, shift, y};
  pool_run(ceil_div(rows, per_task), scale_shift_task, &ctx);
}
