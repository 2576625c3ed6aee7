/*
 * The Node-API face of the kernels (built by build.sh against node-api-headers: ABI-stable, one
 * binary for every Node the package supports). Tensors are passed as one Float32Array over the
 * whole wasm heap plus element offsets, so the kernels read and write tfjs' own memory: no copy
 * in or out. The heap can grow between calls, so its pointer and length are taken on each call.
 *
 * Shapes come from model files that strangers write: every size is checked here, in int64,
 * before a kernel touches memory. A tensor must lie inside the heap; the kernels themselves
 * bounds-check every input pixel they read against the shapes checked here.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ops.h"
#include "pool.h"

/* Limits beyond anything a real network has, that keep scratch sizes and index sums far from overflow. */
#define MAX_DIM ((int64_t)1 << 24)
#define MAX_STRIDE 64
#define MAX_PAD ((int64_t)1 << 20)

typedef struct {
  float *data;
  int64_t length; /* floats */
} heap_t;

static napi_value fail(napi_env env, const char *what) {
  char message[256];
  snprintf(message, sizeof message, "digit-recognizer native kernels: %s", what);
  napi_throw_error(env, "DIGIT_NATIVE_ARGUMENT", message);
  return NULL;
}

static int get_heap(napi_env env, napi_value value, heap_t *heap) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  bool is_typed;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return -1;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, NULL, NULL) != napi_ok) return -1;
  if (type != napi_float32_array || data == NULL) return -1;
  heap->data = data;
  heap->length = (int64_t)length;
  return 0;
}

static int get_int32s(napi_env env, napi_value value, int32_t *out, size_t count) {
  napi_typedarray_type type;
  size_t length;
  void *data;
  bool is_typed;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed) return -1;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, NULL, NULL) != napi_ok) return -1;
  if (type != napi_int32_array || length != count) return -1;
  memcpy(out, data, count * sizeof(int32_t));
  return 0;
}

static int get_int64(napi_env env, napi_value value, int64_t *out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok) return -1;
  if (!(d >= -9007199254740991.0 && d <= 9007199254740991.0) || d != (double)(int64_t)d) return -1;
  *out = (int64_t)d;
  return 0;
}

/* a * b, or -1 once the product passes `limit` (every factor is checked positive first). */
static int64_t product(int64_t limit, int count, const int64_t *factors) {
  int64_t p = 1;
  for (int i = 0; i < count; i++) {
    if (factors[i] < 1 || factors[i] > MAX_DIM || p > limit / factors[i]) return -1;
    p *= factors[i];
  }
  return p;
}

/* The tensor of `size` floats at element `offset` of the heap, or NULL when it does not lie inside. */
static float *span(const heap_t *heap, int64_t offset, int64_t size) {
  if (size < 0 || offset < 0 || offset > heap->length || size > heap->length - offset) return NULL;
  return heap->data + offset;
}

static napi_value args_of(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != want) return NULL;
  return argv[0];
}

/* conv geometry from an Int32Array [batch, inH, inW, inC, outH, outW, outC, kH, kW, strideH, strideW, padTop, padLeft] */
static int get_conv(napi_env env, napi_value value, conv_t *g, const char **why) {
  int32_t v[13];
  if (get_int32s(env, value, v, 13) != 0) {
    *why = "the geometry is not an Int32Array of 13";
    return -1;
  }
  *g = (conv_t){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]};
  const int64_t dims[] = {g->batch, g->in_h, g->in_w, g->in_c, g->out_h, g->out_w, g->out_c, g->k_h, g->k_w};
  for (int i = 0; i < 9; i++)
    if (dims[i] < 1 || dims[i] > MAX_DIM) {
      *why = "a dimension is out of range";
      return -1;
    }
  if (g->stride_h < 1 || g->stride_w < 1 || g->stride_h > MAX_STRIDE || g->stride_w > MAX_STRIDE) {
    *why = "a stride is out of range";
    return -1;
  }
  if (g->pad_top < -MAX_PAD || g->pad_top > MAX_PAD || g->pad_left < -MAX_PAD || g->pad_left > MAX_PAD) {
    *why = "a padding is out of range";
    return -1;
  }
  return 0;
}

typedef struct {
  heap_t heap;
  conv_t g;
} conv_call;

/* (heap, geometry, ...): the heap and the geometry of a convolution call, checked. */
static napi_value conv_args(napi_env env, napi_callback_info info, size_t argc, napi_value *argv, conv_call *call) {
  const char *why = NULL;
  if (args_of(env, info, argc, argv) == NULL) return fail(env, "wrong number of arguments");
  if (get_heap(env, argv[0], &call->heap) != 0) return fail(env, "the heap is not a Float32Array");
  if (get_conv(env, argv[1], &call->g, &why) != 0) return fail(env, why);
  return argv[0];
}

static int tensor(napi_env env, const heap_t *heap, napi_value offset, int count, const int64_t *dims, float **out) {
  int64_t at, size = product(heap->length, count, dims);
  if (size < 0 || get_int64(env, offset, &at) != 0) return -1;
  *out = span(heap, at, size);
  return *out == NULL ? -1 : 0;
}

/* A convolution's three tensors, checked against its geometry: x [B, H, W, Ci], the filter
   [KH, KW, Ci, Co] and y [B, OH, OW, Co] (dx, and dy, for the gradients), at the given offsets. */
static int conv_tensors(napi_env env, const conv_call *c, napi_value x_at, napi_value w_at, napi_value y_at, float **x,
                        float **w, float **y) {
  const conv_t *g = &c->g;
  const int64_t xd[] = {g->batch, g->in_h, g->in_w, g->in_c}, wd[] = {g->k_h, g->k_w, g->in_c, g->out_c};
  const int64_t yd[] = {g->batch, g->out_h, g->out_w, g->out_c};
  return tensor(env, &c->heap, x_at, 4, xd, x) || tensor(env, &c->heap, w_at, 4, wd, w) ||
         tensor(env, &c->heap, y_at, 4, yd, y);
}

/* conv2d(heap, geometry, x, filter, bias or -1, y, relu) */
static napi_value js_conv2d(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  conv_call c;
  if (conv_args(env, info, 7, argv, &c) == NULL) return NULL;
  const conv_t *g = &c.g;
  const int64_t bd[] = {g->out_c};
  float *x, *w, *y, *bias = NULL;
  int64_t bias_at;
  bool relu;
  if (conv_tensors(env, &c, argv[2], argv[3], argv[5], &x, &w, &y)) return fail(env, "a tensor does not lie inside the heap");
  if (get_int64(env, argv[4], &bias_at) != 0) return fail(env, "the bias offset is not an integer");
  if (bias_at != -1 && tensor(env, &c.heap, argv[4], 1, bd, &bias)) return fail(env, "the bias does not lie inside the heap");
  if (napi_get_value_bool(env, argv[6], &relu) != napi_ok) return fail(env, "relu is not a boolean");
  if (conv2d(g, x, w, bias, relu, y) != 0) return fail(env, "out of memory for scratch");
  return NULL;
}

/* conv2dBackpropInput(heap, geometry, dy, filter, dx) */
static napi_value js_conv2d_backprop_input(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  conv_call c;
  if (conv_args(env, info, 5, argv, &c) == NULL) return NULL;
  float *dy, *w, *dx;
  if (conv_tensors(env, &c, argv[4], argv[3], argv[2], &dx, &w, &dy)) return fail(env, "a tensor does not lie inside the heap");
  if (conv2d_backprop_input(&c.g, dy, w, dx) != 0) return fail(env, "out of memory for scratch");
  return NULL;
}

/* conv2dBackpropFilter(heap, geometry, x, dy, dw) */
static napi_value js_conv2d_backprop_filter(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  conv_call c;
  if (conv_args(env, info, 5, argv, &c) == NULL) return NULL;
  float *x, *dy, *dw;
  if (conv_tensors(env, &c, argv[2], argv[4], argv[3], &x, &dw, &dy)) return fail(env, "a tensor does not lie inside the heap");
  if (conv2d_backprop_filter(&c.g, x, dy, dw) != 0) return fail(env, "out of memory for scratch");
  return NULL;
}

/* matmul(heap, Int32Array [batch, m, n, k, aBatched, bBatched, transposeA, transposeB], a, b, c) */
static napi_value js_matmul(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  heap_t heap;
  int32_t v[8];
  if (args_of(env, info, 5, argv) == NULL) return fail(env, "wrong number of arguments");
  if (get_heap(env, argv[0], &heap) != 0) return fail(env, "the heap is not a Float32Array");
  if (get_int32s(env, argv[1], v, 8) != 0) return fail(env, "the geometry is not an Int32Array of 8");
  const int64_t batch = v[0], m = v[1], n = v[2], k = v[3];
  const int a_batched = v[4] != 0, b_batched = v[5] != 0;
  const int64_t ad[] = {a_batched ? batch : 1, m, k}, bd[] = {b_batched ? batch : 1, k, n}, cd[] = {batch, m, n};
  float *a, *b, *c;
  if (tensor(env, &heap, argv[2], 3, ad, &a) || tensor(env, &heap, argv[3], 3, bd, &b) ||
      tensor(env, &heap, argv[4], 3, cd, &c))
    return fail(env, "a matrix does not lie inside the heap, or a dimension is out of range");
  if (matmul(batch, m, n, k, a, a_batched ? m * k : 0, v[6] != 0, b, b_batched ? k * n : 0, v[7] != 0, c) != 0)
    return fail(env, "out of memory for scratch");
  return NULL;
}

/* scaleShift(heap, x, y, rows, channels, scale: Float32Array, shift: Float32Array) */
static napi_value js_scale_shift(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  heap_t heap, scale, shift;
  int64_t rows, channels;
  if (args_of(env, info, 7, argv) == NULL) return fail(env, "wrong number of arguments");
  if (get_heap(env, argv[0], &heap) != 0) return fail(env, "the heap is not a Float32Array");
  if (get_int64(env, argv[3], &rows) != 0 || get_int64(env, argv[4], &channels) != 0)
    return fail(env, "rows and channels must be integers");
  if (get_heap(env, argv[5], &scale) != 0 || get_heap(env, argv[6], &shift) != 0)
    return fail(env, "scale and shift must be Float32Arrays");
  if (channels < 1 || channels > MAX_DIM || scale.length != channels || shift.length != channels)
    return fail(env, "scale and shift must hold one value per channel");
  const int64_t dims[] = {rows, channels};
  float *x, *y;
  if (tensor(env, &heap, argv[1], 2, dims, &x) || tensor(env, &heap, argv[2], 2, dims, &y))
    return fail(env, "a tensor does not lie inside the heap");
  scale_shift(rows, channels, x, scale.data, shift.data, y);
  return NULL;
}

static napi_value make_string(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

/* info() -> { isa, threads, isas: the paths this CPU can run, best first } */
static napi_value js_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out, isas, threads;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "isa", make_string(env, ops_isa()->name));
  napi_create_int32(env, pool_threads(), &threads);
  napi_set_named_property(env, out, "threads", threads);
  napi_create_array(env, &isas);
  const isa_t *all[] = {&isa_avx512, &isa_avx2, &isa_sse2};
  uint32_t n = 0;
  for (int i = 0; i < 3; i++)
    if (ops_isa_supported(all[i])) napi_set_element(env, isas, n++, make_string(env, all[i]->name));
  napi_set_named_property(env, out, "isas", isas);
  return out;
}

/* configure(threads, isa name or null for the best this CPU has) */
static napi_value js_configure(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int64_t threads;
  char name[16] = {0};
  napi_valuetype type;
  if (args_of(env, info, 2, argv) == NULL) return fail(env, "wrong number of arguments");
  if (get_int64(env, argv[0], &threads) != 0 || threads < 1 || threads > 64)
    return fail(env, "threads must be an integer from 1 to 64");
  if (napi_typeof(env, argv[1], &type) != napi_ok) return NULL;
  if (type == napi_string) {
    size_t length;
    if (napi_get_value_string_utf8(env, argv[1], name, sizeof name, &length) != napi_ok) return NULL;
    if (ops_select_isa(name) != 0) return fail(env, "that ISA is unknown, or this CPU cannot run it");
  } else if (type == napi_null) {
    ops_select_isa(NULL);
  } else {
    return fail(env, "isa must be a string or null");
  }
  if (pool_set_threads((int)threads) != 0) return fail(env, "a worker thread could not be started");
  return NULL;
}

NAPI_MODULE_INIT() {
  const napi_property_descriptor functions[] = {
      {"info", NULL, js_info, NULL, NULL, NULL, napi_enumerable, NULL},
      {"configure", NULL, js_configure, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2d", NULL, js_conv2d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackpropInput", NULL, js_conv2d_backprop_input, NULL, NULL, NULL, napi_enumerable, NULL},
      {"conv2dBackpropFilter", NULL, js_conv2d_backprop_filter, NULL, NULL, NULL, napi_enumerable, NULL},
      {"matmul", NULL, js_matmul, NULL, NULL, NULL, napi_enumerable, NULL},
      {"scaleShift", NULL, js_scale_shift, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) return NULL;
  ops_select_isa(NULL);
  return exports;
}
