/* One SGD step of softmax regression, compiled: the fused engine's inner loop for float32
   weights on the CPU (softmaxreg/kernel/__init__.py loads it with ctypes; it is a plain shared
   library, built without Python's headers).

   Why C: in PyTorch the step is two BLAS calls on a 10-row matrix plus a dozen kernel launches
   of a few microseconds each, and BLAS at 10 rows runs far below the machine's peak. Here each
   block of BLOCK examples is gathered from the uint8 data set and converted once, scored
   against every class while it sits in the L1 cache, and its gradient accumulated from the same
   cache lines: one pass over each example instead of four (gather, convert, forward, backward).

   Two entry points share one body: softmaxreg_fused_step reads rows of a uint8 data set (the
   pixels, converted to floats in the block's scratch), softmaxreg_fused_step_f32 rows of a
   float32 one (any features: scikit-learn's estimator), which it reads in place, optionally
   weighting each example. The body is inlined into each, so each has loops for one type.

   The maths is the fused engine's (softmaxreg/training/engines.py): logits = scale * (W x) + b,
   the stable log-sum-exp of section 7.2 (shift by the maximum, so every exponent is <= 0 and no
   probability is ever logged), the gradient (softmax - onehot) / norm, then plain SGD in place.
   `norm` is the number of examples the loss is averaged over: the batch, or a global batch
   of which this call sees a share (data-parallel training sums the shares' gradients).
   The softmax reuses the exponentials of the log-sum-exp (e / sum e, one expf per class
   instead of two) and the sums run in another order than BLAS's: float rounding differs in
   the last bits, and tests hold the two forms and autograd to 1e-5. */

#include <math.h>
#include <stdint.h>
#include <string.h>

#define BLOCK 8 /* examples per block: eight independent sums hide the FMA latency */

/* Bumped whenever the signature or the meaning of an argument changes: the loader refuses a
   library whose version differs, so a stale build is never called with the wrong arguments. */
#define ABI_VERSION 3

#if defined(_WIN32)
#define EXPORT __declspec(dllexport)
#else
#define EXPORT __attribute__((visibility("default")))
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(address) __builtin_prefetch(address)
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define PREFETCH(address) ((void)(address))
#define ALWAYS_INLINE static __forceinline
#else
#define PREFETCH(address) ((void)(address))
#define ALWAYS_INLINE static inline
#endif

/* AVX-512 or AVX2 + FMA where the CPU has them, chosen at load time; baseline x86-64
   otherwise. (On CPUs with AVX-512 the wider clone is what keeps up with a BLAS library.) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MULTIVERSION \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MULTIVERSION
#endif

enum { OK = 0, BAD_INDEX = -1, BAD_LABEL = -2 };

EXPORT int softmaxreg_fused_step_abi(void) { return ABI_VERSION; }

/* Floats of scratch memory that softmaxreg_fused_step needs as `work`. */
EXPORT int64_t softmaxreg_fused_step_workspace(int64_t inputs, int64_t classes)
{
    return BLOCK * (inputs + classes);
}

/* The element type of the data set's rows: the step's body is inlined once for each. */
enum { ROWS_U8 = 0, ROWS_F32 = 1 };

/* Row `row` as floats: uint8 pixels are converted into `scratch`; float32 rows are read where
   they lie (they are floats already: copying them into the scratch gained nothing). */
ALWAYS_INLINE const float *load_row(
    const void *data, int type, int64_t row, int64_t inputs, float *scratch)
{
    if (type == ROWS_F32) return (const float *)data + row * inputs;
    const uint8_t *src = (const uint8_t *)data + row * inputs;
    for (int64_t k = 0; k < inputs; k++) scratch[k] = (float)src[k];
    return scratch;
}

ALWAYS_INLINE void prefetch_row(const void *data, int type, int64_t row, int64_t inputs)
{
    const int64_t bytes = type == ROWS_F32 ? inputs * (int64_t)sizeof(float) : inputs;
    const char *start = (const char *)data + row * bytes;
    for (int64_t k = 0; k < bytes; k += 64) PREFETCH(start + k);
}

/* The step on `n` rows `index` of a data set of `num_rows` rows of `type`. `sample_weight`
   (NULL: every example weighs 1) holds one weight per data set row: each example's loss and
   gradient are multiplied by its weight. Multiplying by 1 is exact, so without weights the
   arithmetic is the same as with weights of 1. */
ALWAYS_INLINE int fused_step(
    const void *data, int type, int64_t num_rows, int64_t inputs,
    const int64_t *index, const int64_t *labels, const float *sample_weight, int64_t n,
    double norm, float *W, float *b, int64_t classes, float scale, float lr, int apply,
    float *grad_w, float *grad_b, float *work, double *loss_sum, int64_t *correct_count)
{
    for (int64_t i = 0; i < n; i++) {
        if (index[i] < 0 || index[i] >= num_rows) return BAD_INDEX;
        if (labels[i] < 0 || labels[i] >= classes) return BAD_LABEL;
    }
    float *xf = work;                  /* BLOCK rows of inputs as floats (uint8 rows, padding) */
    float *z = work + BLOCK * inputs;  /* BLOCK rows of logits, then of gradients */
    const float inv_n = (float)(1.0 / norm);
    double loss = 0.0;
    int64_t correct = 0;
    memset(grad_w, 0, sizeof(float) * classes * inputs);
    memset(grad_b, 0, sizeof(float) * classes);

    for (int64_t i0 = 0; i0 < n; i0 += BLOCK) {
        const int64_t rows = n - i0 < BLOCK ? n - i0 : BLOCK;
        /* The rows are scattered over tens of MB, beyond the caches: ask for the next block's
           rows now, so that they arrive while this block is computed. */
        for (int64_t r = i0 + BLOCK; r < i0 + 2 * BLOCK && r < n; r++)
            prefetch_row(data, type, index[r], inputs);
        const float *x[BLOCK];
        for (int64_t r = 0; r < BLOCK; r++) {  /* a short last block is padded with zeros */
            float *scratch = xf + r * inputs;
            if (r < rows) {
                x[r] = load_row(data, type, index[i0 + r], inputs, scratch);
            } else {
                memset(scratch, 0, sizeof(float) * inputs);
                x[r] = scratch;
            }
        }
        const float *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
        const float *x4 = x[4], *x5 = x[5], *x6 = x[6], *x7 = x[7];

        /* Forward: z[r][c] = scale * <W[c], x_r> + b[c]. */
        for (int64_t c = 0; c < classes; c++) {
            const float *w = W + c * inputs;
            float a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
#pragma omp simd reduction(+ : a0, a1, a2, a3, a4, a5, a6, a7)
            for (int64_t k = 0; k < inputs; k++) {
                const float wk = w[k];
                a0 += wk * x0[k]; a1 += wk * x1[k]; a2 += wk * x2[k]; a3 += wk * x3[k];
                a4 += wk * x4[k]; a5 += wk * x5[k]; a6 += wk * x6[k]; a7 += wk * x7[k];
            }
            const float sums[BLOCK] = {a0, a1, a2, a3, a4, a5, a6, a7};
            const float bias = b ? b[c] : 0.0f;
            for (int64_t r = 0; r < BLOCK; r++) z[r * classes + c] = sums[r] * scale + bias;
        }

        /* Loss, correct count and dL/dz, one example at a time (classes values each). */
        for (int64_t r = 0; r < BLOCK; r++) {
            float *zr = z + r * classes;
            if (r >= rows) {  /* padding: a zero gradient adds nothing */
                memset(zr, 0, sizeof(float) * classes);
                continue;
            }
            float top = zr[0];
            for (int64_t c = 1; c < classes; c++)
                if (zr[c] > top || zr[c] != zr[c]) top = zr[c];  /* a NaN propagates */
            const int64_t t = labels[i0 + r];
            const float shifted_true = zr[t] - top;
            float total = 0.0f;
            for (int64_t c = 0; c < classes; c++) {
                zr[c] = expf(zr[c] - top);  /* every exponent <= 0: no overflow */
                total += zr[c];
            }
            const float example_loss = logf(total) - shifted_true;
            const float sw = sample_weight ? sample_weight[index[i0 + r]] : 1.0f;
            loss += (double)sw * (double)example_loss;
            correct += shifted_true == 0.0f;  /* the true class holds the maximum (ties count) */
            const float sw_inv_n = sw * inv_n;
            const float weight = sw_inv_n / total;  /* softmax / n, from the same exponentials */
            for (int64_t c = 0; c < classes; c++) {
                float g = zr[c] * weight;
                if (c == t) g -= sw_inv_n;
                zr[c] = g;
                grad_b[c] += g;
            }
        }

        /* Backward: grad_w[c] += sum over the block of g[r][c] * x_r, from the same cache. */
        for (int64_t c = 0; c < classes; c++) {
            const float g0 = z[c], g1 = z[classes + c], g2 = z[2 * classes + c];
            const float g3 = z[3 * classes + c], g4 = z[4 * classes + c];
            const float g5 = z[5 * classes + c], g6 = z[6 * classes + c];
            const float g7 = z[7 * classes + c];
            float *gw = grad_w + c * inputs;
#pragma omp simd
            for (int64_t k = 0; k < inputs; k++)
                gw[k] += g0 * x0[k] + g1 * x1[k] + g2 * x2[k] + g3 * x3[k]
                       + g4 * x4[k] + g5 * x5[k] + g6 * x6[k] + g7 * x7[k];
        }
    }

    /* The inputs were unscaled (raw 0..255 pixels): the weight's true gradient is
       scale * grad_w. */
    const int64_t size = classes * inputs;
    if (apply) {
        const float step = lr * scale;
#pragma omp simd
        for (int64_t k = 0; k < size; k++) W[k] -= step * grad_w[k];
        if (b)
            for (int64_t c = 0; c < classes; c++) b[c] -= lr * grad_b[c];
    } else {
#pragma omp simd
        for (int64_t k = 0; k < size; k++) grad_w[k] *= scale;
    }
    *loss_sum = loss;
    *correct_count = correct;
    return OK;
}

/* Both entry points return OK, or BAD_INDEX / BAD_LABEL (nothing is updated then). With
   `apply`, W and b take the step W -= lr * grad in place; without, grad_w and grad_b hold the
   gradient for the caller's optimizer. `work` is softmaxreg_fused_step_workspace() floats of
   scratch. `b` may be NULL (no bias). */

/* Rows of uint8 pixels (the training path's data sets), every example weighing 1. */
MULTIVERSION EXPORT
int softmaxreg_fused_step(
    const uint8_t *images, int64_t num_images, int64_t inputs,
    const int64_t *index, const int64_t *labels, int64_t n, double norm,
    float *W, float *b, int64_t classes, float scale, float lr, int apply,
    float *grad_w, float *grad_b, float *work, double *loss_sum, int64_t *correct_count)
{
    return fused_step(images, ROWS_U8, num_images, inputs, index, labels, NULL, n, norm, W, b,
                      classes, scale, lr, apply, grad_w, grad_b, work, loss_sum, correct_count);
}

/* Rows of float32 features; `sample_weight` (num_rows floats, or NULL) weighs each example. */
MULTIVERSION EXPORT
int softmaxreg_fused_step_f32(
    const float *rows, int64_t num_rows, int64_t inputs,
    const int64_t *index, const int64_t *labels, const float *sample_weight, int64_t n,
    double norm, float *W, float *b, int64_t classes, float scale, float lr, int apply,
    float *grad_w, float *grad_b, float *work, double *loss_sum, int64_t *correct_count)
{
    return fused_step(rows, ROWS_F32, num_rows, inputs, index, labels, sample_weight, n, norm,
                      W, b, classes, scale, lr, apply, grad_w, grad_b, work, loss_sum,
                      correct_count);
}
