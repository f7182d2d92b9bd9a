//===- Kernels.h - CPU kernels of the transformer ops -----------*- C++ -*-===//
//
// float32 kernels behind the executor. Matrix products go to OpenBLAS
// (sgemm); the rest are vectorizable loops, compiled for AVX-512, AVX2 and a
// generic target with run-time dispatch, parallelized over rows with LLVM's
// thread pool. Every kernel writes a fresh output buffer.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_RUNTIME_KERNELS_H
#define QUARK_RUNTIME_KERNELS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace mlir::quark::kernels {

/// Threads used by the kernels and by OpenBLAS. 0 means all cores.
void setNumThreads(int threads);
int getNumThreads();

/// y[M, N] = x[M, K] @ w[N, K]^T (+ bias[N]).
void linear(const float *x, const float *w, const float *bias, float *y,
            int64_t m, int64_t k, int64_t n);

/// out[i, :] = table[ids[i], :]. Returns the index of the first
/// out-of-range id, or -1.
int64_t embedding(const int32_t *ids, int64_t count, const float *table,
                  int64_t vocab, int64_t hidden, float *out);

/// out[b, s, :] = x[b, s, :] + table[offset + s, :].
void addPositions(const float *x, const float *table, int64_t offset,
                  int64_t batch, int64_t seq, int64_t hidden, float *out);

/// RMSNorm of every `group` consecutive elements of each row, times weight.
void rmsNorm(const float *x, const float *weight, float *y, int64_t rows,
             int64_t cols, int64_t group, float epsilon);
void layerNorm(const float *x, const float *weight, const float *bias, float *y,
               int64_t rows, int64_t cols, float epsilon);

struct RopeScaling {
  bool llama3 = false;
  double factor = 1.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  double originalMaxPositions = 8192;
};
/// The inverse frequencies of rotary embeddings, in float32 as Hugging Face
/// computes them (with scaling applied).
std::vector<float> ropeInverseFrequencies(int64_t headDim, double theta,
                                          std::optional<RopeScaling> scaling);
/// Applies rotate-half rotary embeddings to x [batch, seq, heads * headDim].
void rope(const float *x, float *y, int64_t batch, int64_t seq, int64_t heads,
          int64_t headDim, llvm::ArrayRef<float> inverseFrequencies);

/// Causal attention; q [b, s, h * d], k and v [b, s, kvh * d].
/// `probabilities`, when given, sees (and may rewrite) each query row's
/// visible attention probabilities before they weight V: Quark's
/// softmax_quant_spec quantizes them there, and calibration records their
/// maximum. It is called from several threads at once.
void attention(const float *q, const float *k, const float *v, float *out,
               int64_t batch, int64_t seq, int64_t heads, int64_t kvHeads,
               int64_t headDim, float scale, int64_t slidingWindow,
               llvm::function_ref<void(float *, int64_t)> probabilities = {});

enum class Activation { SiLU, ReLU, GELU, GELUTanh };
void activation(Activation kind, const float *x, float *y, int64_t n);
/// y = activation(gate) * up.
void gatedActivation(Activation kind, const float *gate, const float *up,
                     float *y, int64_t n);
void add(const float *a, const float *b, float *y, int64_t n);
void multiply(const float *a, const float *b, float *y, int64_t n);

/// Softmax over `experts` logits per row, the top_k largest (ties to the
/// lower index), optionally renormalized to sum to one.
void topKRouter(const float *logits, int64_t rows, int64_t experts,
                int64_t topK, bool normalize, float *weights, int32_t *indices);

/// Cross-entropy of next-token prediction: for each row r < rows - 1 of
/// logits [rows, vocab], -log softmax(logits[r])[targets[r + 1]]. Returns
/// the sum, in double.
double nextTokenNLL(const float *logits, const int32_t *targets, int64_t rows,
                    int64_t vocab);

} // namespace mlir::quark::kernels

#endif // QUARK_RUNTIME_KERNELS_H
