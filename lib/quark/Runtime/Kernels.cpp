//===- Kernels.cpp - CPU kernels of the transformer ops -------------------===//
//
// Hot loops are compiled three times (AVX-512, AVX2+FMA, generic) and picked
// at load time (target_clones), so one binary runs everywhere and uses the
// widest vectors the CPU has. Reductions allow reassociation explicitly,
// which is what lets them vectorize; nothing else relaxes IEEE semantics.
//
//===----------------------------------------------------------------------===//

#include "quark/Runtime/Kernels.h"

#include "quark/Support/Parallel.h"

#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/Parallel.h"
#include "llvm/Support/Threading.h"

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

using namespace mlir::quark;

// oneDNN runs its GEMM on OpenMP (libgomp in Debian's build).
extern "C" void omp_set_num_threads(int);
extern "C" int omp_get_max_threads(void);

namespace {

std::atomic<int> configuredThreads{0};

/// Splits [0, count) into chunks of at least `grain` for the thread pool
/// (configuring the thread count on first use).
template <typename Fn>
void parallelRows(int64_t count, int64_t grain, Fn &&fn) {
  kernels::getNumThreads();
  parallelChunks(count, grain, std::forward<Fn>(fn));
}

//===----------------------------------------------------------------------===//
// Vector primitives
//===----------------------------------------------------------------------===//

/// exp(x) for x <= 88.7 to within 2 ulp, branch-free so loops vectorize:
/// x = n ln2 + r with |r| <= ln2/2, exp(r) by a degree-6 polynomial, and
/// 2^n assembled in the exponent bits. Inputs below -87.3 give ~0.
inline float expApprox(float x) {
  x = std::min(std::max(x, -87.3f), 88.7f);
  float n = __builtin_roundevenf(x * 1.44269504088896341f);
  float r = x - n * 0.693145751953125f - n * 1.428606765330187e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

QUARK_VECTORIZED float sumOfSquares(const float *x, int64_t n) {
#pragma clang fp reassociate(on)
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i)
    sum += x[i] * x[i];
  return sum;
}

QUARK_VECTORIZED float sum(const float *x, int64_t n) {
#pragma clang fp reassociate(on)
  float total = 0.0f;
  for (int64_t i = 0; i < n; ++i)
    total += x[i];
  return total;
}

QUARK_VECTORIZED float maxOf(const float *x, int64_t n) {
  float best = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i)
    best = std::max(best, x[i]);
  return best;
}

/// x[i] = exp(x[i] - shift); returns the sum.
QUARK_VECTORIZED float expShiftInPlace(float *x, int64_t n, float shift) {
#pragma clang fp reassociate(on)
  float total = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = expApprox(x[i] - shift);
    total += x[i];
  }
  return total;
}

QUARK_VECTORIZED void scaleInPlace(float *x, int64_t n, float factor) {
  for (int64_t i = 0; i < n; ++i)
    x[i] *= factor;
}

QUARK_VECTORIZED void scaleInto(const float *x, const float *weight,
                                float factor, float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = x[i] * factor * weight[i];
}

QUARK_VECTORIZED void siluGate(const float *gate, const float *up, float *y,
                               int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float g = gate[i];
    float silu = g / (1.0f + expApprox(-g));
    y[i] = up ? silu * up[i] : silu;
  }
}

QUARK_VECTORIZED void addInto(const float *a, const float *b, float *y,
                              int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] + b[i];
}

QUARK_VECTORIZED void multiplyInto(const float *a, const float *b, float *y,
                                   int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] * b[i];
}

float geluExact(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678f)); }

float geluTanh(float x) {
  return 0.5f * x *
         (1.0f + std::tanh(0.7978845608f * (x + 0.044715f * x * x * x)));
}

} // namespace

//===----------------------------------------------------------------------===//
// Threads
//===----------------------------------------------------------------------===//

void kernels::setNumThreads(int threads) {
  if (threads <= 0)
    threads = static_cast<int>(llvm::hardware_concurrency().compute_thread_count());
  configuredThreads = threads;
  llvm::parallel::strategy = llvm::hardware_concurrency(threads);
  omp_set_num_threads(threads);
}

int kernels::getNumThreads() {
  int threads = configuredThreads.load();
  if (threads == 0) {
    setNumThreads(0);
    threads = configuredThreads.load();
  }
  return threads;
}

//===----------------------------------------------------------------------===//
// Layers
//===----------------------------------------------------------------------===//

void kernels::linear(const float *x, const float *w, const float *bias,
                     float *y, int64_t m, int64_t k, int64_t n) {
  getNumThreads(); // configures the GEMM threads on first use
  if (m == 0 || n == 0)
    return;
  if (k == 0) {
    std::fill(y, y + m * n, 0.0f);
  } else if (dnnl_sgemm('N', 'T', m, n, k, 1.0f, x, k, w, k, 0.0f, y, n) !=
             dnnl_success) {
    // Only invalid arguments (none: the executor checks shapes) or memory
    // exhaustion get here.
    llvm::report_fatal_error("oneDNN sgemm failed");
  }
  if (bias)
    parallelRows(m, 64, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        addInto(y + r * n, bias, y + r * n, n);
    });
}

int64_t kernels::embedding(const int32_t *ids, int64_t count,
                           const float *table, int64_t vocab, int64_t hidden,
                           float *out) {
  for (int64_t i = 0; i < count; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      return i;
  parallelRows(count, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      std::memcpy(out + i * hidden, table + static_cast<int64_t>(ids[i]) * hidden,
                  hidden * sizeof(float));
  });
  return -1;
}

void kernels::addPositions(const float *x, const float *table, int64_t offset,
                           int64_t batch, int64_t seq, int64_t hidden,
                           float *out) {
  parallelRows(batch * seq, 16, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row)
      addInto(x + row * hidden, table + (offset + row % seq) * hidden,
              out + row * hidden, hidden);
  });
}

void kernels::rmsNorm(const float *x, const float *weight, float *y,
                      int64_t rows, int64_t cols, int64_t group,
                      float epsilon) {
  int64_t groups = rows * (cols / group);
  parallelRows(groups, 32, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) {
      const float *in = x + g * group;
      float meanSquare = sumOfSquares(in, group) / static_cast<float>(group);
      float factor = 1.0f / std::sqrt(meanSquare + epsilon);
      scaleInto(in, weight, factor, y + g * group, group);
    }
  });
}

void kernels::layerNorm(const float *x, const float *weight, const float *bias,
                        float *y, int64_t rows, int64_t cols, float epsilon) {
  parallelRows(rows, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> centered(cols);
    for (int64_t r = begin; r < end; ++r) {
      const float *in = x + r * cols;
      float mean = sum(in, cols) / static_cast<float>(cols);
      for (int64_t c = 0; c < cols; ++c)
        centered[c] = in[c] - mean;
      float variance = sumOfSquares(centered.data(), cols) /
                       static_cast<float>(cols);
      float factor = 1.0f / std::sqrt(variance + epsilon);
      float *out = y + r * cols;
      for (int64_t c = 0; c < cols; ++c)
        out[c] = centered[c] * factor * weight[c] + bias[c];
    }
  });
}

std::vector<float>
kernels::ropeInverseFrequencies(int64_t headDim, double theta,
                                std::optional<RopeScaling> scaling) {
  std::vector<float> inverse(headDim / 2);
  float base = static_cast<float>(theta);
  for (int64_t i = 0; i < headDim / 2; ++i) {
    // float32, as torch: 1 / base ** (arange(0, d, 2).float() / d).
    float exponent = static_cast<float>(2 * i) / static_cast<float>(headDim);
    inverse[i] = 1.0f / std::pow(base, exponent);
  }
  if (!scaling)
    return inverse;
  if (!scaling->llama3) {
    for (float &f : inverse)
      f = static_cast<float>(f / scaling->factor);
    return inverse;
  }
  double lowWavelength = scaling->originalMaxPositions / scaling->lowFreqFactor;
  double highWavelength =
      scaling->originalMaxPositions / scaling->highFreqFactor;
  for (float &f : inverse) {
    double wavelength = 2 * M_PI / f;
    double scaled = wavelength > lowWavelength ? f / scaling->factor : f;
    if (wavelength >= highWavelength && wavelength <= lowWavelength) {
      double smooth = (scaling->originalMaxPositions / wavelength -
                       scaling->lowFreqFactor) /
                      (scaling->highFreqFactor - scaling->lowFreqFactor);
      scaled = (1 - smooth) * scaled / scaling->factor + smooth * scaled;
    }
    f = static_cast<float>(scaled);
  }
  return inverse;
}

void kernels::rope(const float *x, float *y, int64_t batch, int64_t seq,
                   int64_t heads, int64_t headDim,
                   llvm::ArrayRef<float> inverseFrequencies) {
  int64_t half = headDim / 2;
  // cos/sin per (position, frequency), angles in float32 like torch.
  std::vector<float> cosTable(seq * half), sinTable(seq * half);
  for (int64_t s = 0; s < seq; ++s)
    for (int64_t i = 0; i < half; ++i) {
      float angle = static_cast<float>(s) * inverseFrequencies[i];
      cosTable[s * half + i] = std::cos(angle);
      sinTable[s * half + i] = std::sin(angle);
    }
  parallelRows(batch * seq, 8, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const float *c = cosTable.data() + (row % seq) * half;
      const float *s = sinTable.data() + (row % seq) * half;
      for (int64_t h = 0; h < heads; ++h) {
        const float *in = x + (row * heads + h) * headDim;
        float *out = y + (row * heads + h) * headDim;
        for (int64_t i = 0; i < half; ++i) {
          float a = in[i], b = in[i + half];
          out[i] = a * c[i] - b * s[i];
          out[i + half] = b * c[i] + a * s[i];
        }
      }
    }
  });
}

/// C[m, n] = alpha * A[m, k] . op(B) with row-major strides; op(B) is
/// B^T (B is [n, k]) when `transposeB`, else B ([k, n]).
static void gemm(bool transposeB, int64_t m, int64_t n, int64_t k, float alpha,
                 const float *a, int64_t lda, const float *b, int64_t ldb,
                 float *c, int64_t ldc) {
  if (dnnl_sgemm('N', transposeB ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb,
                 0.0f, c, ldc) != dnnl_success)
    llvm::report_fatal_error("oneDNN sgemm failed");
}

void kernels::attention(const float *q, const float *k, const float *v,
                        float *out, int64_t batch, int64_t seq, int64_t heads,
                        int64_t kvHeads, int64_t headDim, float scale,
                        int64_t slidingWindow,
                        llvm::function_ref<void(float *, int64_t)> probabilities) {
  int64_t group = heads / kvHeads;
  int64_t qStride = heads * headDim, kvStride = kvHeads * headDim;
  // Blocks of query rows: scores = Q_blk K^T and out = P V are GEMMs over
  // the keys the block can see; the causal triangle wastes at most half a
  // block per block.
  constexpr int64_t kBlock = 128;
  parallelRows(batch * heads, 1, [&](int64_t begin, int64_t end) {
    // Tasks run in parallel, so each one's GEMMs run on its own thread;
    // the setting is per thread and restored for the GEMMs that follow.
    int savedThreads = omp_get_max_threads();
    omp_set_num_threads(1);
    std::vector<float> scores(std::min(seq, kBlock) * seq);
    for (int64_t task = begin; task < end; ++task) {
      int64_t head = task % heads, b = task / heads;
      int64_t kvHead = head / group;
      const float *qHead = q + b * seq * qStride + head * headDim;
      const float *kHead = k + b * seq * kvStride + kvHead * headDim;
      const float *vHead = v + b * seq * kvStride + kvHead * headDim;
      float *outHead = out + b * seq * qStride + head * headDim;
      for (int64_t r0 = 0; r0 < seq; r0 += kBlock) {
        int64_t r1 = std::min(seq, r0 + kBlock);
        int64_t k0 = slidingWindow > 0
                         ? std::max<int64_t>(0, r0 - slidingWindow + 1)
                         : 0;
        int64_t keys = r1 - k0;
        gemm(/*transposeB=*/true, r1 - r0, keys, headDim, scale,
             qHead + r0 * qStride, qStride, kHead + k0 * kvStride, kvStride,
             scores.data(), keys);
        for (int64_t i = r0; i < r1; ++i) {
          float *row = scores.data() + (i - r0) * keys;
          int64_t first = slidingWindow > 0
                              ? std::max<int64_t>(k0, i - slidingWindow + 1)
                              : 0;
          int64_t from = first - k0, to = i - k0 + 1; // visible keys
          float shift = maxOf(row + from, to - from);
          float inverse = 1.0f / expShiftInPlace(row + from, to - from, shift);
          scaleInPlace(row + from, to - from, inverse);
          if (probabilities)
            probabilities(row + from, to - from);
          std::fill(row, row + from, 0.0f);
          std::fill(row + to, row + keys, 0.0f);
        }
        gemm(/*transposeB=*/false, r1 - r0, headDim, keys, 1.0f,
             scores.data(), keys, vHead + k0 * kvStride, kvStride,
             outHead + r0 * qStride, qStride);
      }
    }
    omp_set_num_threads(savedThreads);
  });
}

void kernels::activation(Activation kind, const float *x, float *y,
                         int64_t n) {
  parallelRows(n, 1 << 14, [&](int64_t begin, int64_t end) {
    switch (kind) {
    case Activation::SiLU:
      siluGate(x + begin, nullptr, y + begin, end - begin);
      break;
    case Activation::ReLU:
      for (int64_t i = begin; i < end; ++i)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
      break;
    case Activation::GELU:
      for (int64_t i = begin; i < end; ++i)
        y[i] = geluExact(x[i]);
      break;
    case Activation::GELUTanh:
      for (int64_t i = begin; i < end; ++i)
        y[i] = geluTanh(x[i]);
      break;
    }
  });
}

void kernels::gatedActivation(Activation kind, const float *gate,
                              const float *up, float *y, int64_t n) {
  if (kind == Activation::SiLU) {
    parallelRows(n, 1 << 14, [&](int64_t begin, int64_t end) {
      siluGate(gate + begin, up + begin, y + begin, end - begin);
    });
    return;
  }
  activation(kind, gate, y, n);
  multiply(y, up, y, n);
}

void kernels::add(const float *a, const float *b, float *y, int64_t n) {
  parallelRows(n, 1 << 15, [&](int64_t begin, int64_t end) {
    addInto(a + begin, b + begin, y + begin, end - begin);
  });
}

void kernels::multiply(const float *a, const float *b, float *y, int64_t n) {
  parallelRows(n, 1 << 15, [&](int64_t begin, int64_t end) {
    multiplyInto(a + begin, b + begin, y + begin, end - begin);
  });
}

void kernels::topKRouter(const float *logits, int64_t rows, int64_t experts,
                         int64_t topK, bool normalize, float *weights,
                         int32_t *indices) {
  parallelRows(rows, 64, [&](int64_t begin, int64_t end) {
    std::vector<float> probs(experts);
    std::vector<int32_t> order(experts);
    for (int64_t r = begin; r < end; ++r) {
      const float *row = logits + r * experts;
      float shift = maxOf(row, experts);
      float total = 0.0f;
      for (int64_t e = 0; e < experts; ++e) {
        probs[e] = std::exp(row[e] - shift);
        total += probs[e];
      }
      for (int64_t e = 0; e < experts; ++e) {
        probs[e] /= total;
        order[e] = static_cast<int32_t>(e);
      }
      std::partial_sort(order.begin(), order.begin() + topK, order.end(),
                        [&](int32_t a, int32_t b) {
                          return probs[a] != probs[b] ? probs[a] > probs[b]
                                                      : a < b;
                        });
      float selected = 0.0f;
      for (int64_t t = 0; t < topK; ++t)
        selected += probs[order[t]];
      for (int64_t t = 0; t < topK; ++t) {
        indices[r * topK + t] = order[t];
        weights[r * topK + t] =
            normalize ? probs[order[t]] / selected : probs[order[t]];
      }
    }
  });
}

double kernels::nextTokenNLL(const float *logits, const int32_t *targets,
                             int64_t rows, int64_t vocab) {
  std::vector<double> perRow(rows > 0 ? rows - 1 : 0);
  parallelRows(rows - 1, 8, [&](int64_t begin, int64_t end) {
    std::vector<float> scratch(vocab);
    for (int64_t r = begin; r < end; ++r) {
      const float *row = logits + r * vocab;
      std::memcpy(scratch.data(), row, vocab * sizeof(float));
      float shift = maxOf(row, vocab);
      double total = expShiftInPlace(scratch.data(), vocab, shift);
      perRow[r] = std::log(total) + shift - row[targets[r + 1]];
    }
  });
  double sumNLL = 0;
  for (double value : perRow)
    sumNLL += value;
  return sumNLL;
}
