//===- Gptq.h - GPTQ weight quantization with error feedback -----*- C++
//-*-===//
//
// GPTQ (Frantar et al.) as Quark runs it, IR-free: a running Hessian of a
// linear layer's inputs, then a damped Cholesky factor of its inverse and a
// blocked column sweep that quantizes one column at a time with Quark's
// quantizer and feeds each column's error forward into the columns not yet
// quantized. Numerics follow quark-semantics.md section 4.1 except where
// Quark's own quantizer replaces GPTQ's (scales from the layer's spec).
//
// Dense linear algebra goes to OpenBLAS (ssyrk for the Hessian, sgemm for
// the trailing update, LAPACK spotrf/spotri for the Cholesky steps); the
// per-column sweep is a row-parallel loop, since rows quantize
// independently within a block.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_ALGORITHMS_GPTQ_H
#define QUARK_ALGORITHMS_GPTQ_H

#include "quark/Support/TensorQuant.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace mlir::quark {

struct GptqOptions {
  /// Columns per lazy-batch block.
  int64_t blockSize = 128;
  /// Diagonal damping relative to the mean of diag(H).
  double dampPercent = 0.01;
  /// desc_act: quantize columns in decreasing order of diag(H).
  bool actOrder = true;
  /// Per-group parameters computed from the unpermuted weight before the
  /// sweep (required with actOrder, as in Quark).
  bool staticGroups = true;
};

/// H = (2/N) * sum of x x^T over the N samples seen, kept as a running
/// average exactly as GPTQ's add_batch does (H *= n/(n+b), then
/// H += (sqrt(2/(n+b)) x)(sqrt(2/(n+b)) x)^T), in float32.
class GptqHessian {
public:
  explicit GptqHessian(int64_t columns);
  /// Adds one calibration batch: `inputs` holds `tokens` rows of
  /// `columns()` values; `samples` is what GPTQ counts for it (the batch's
  /// first dimension, one per window).
  void add(llvm::ArrayRef<float> inputs, int64_t tokens, int64_t samples);
  int64_t columns() const { return n; }
  int64_t samples() const { return count; }
  /// The full symmetric matrix (row-major n x n).
  std::vector<float> matrix() const;

private:
  int64_t n;
  int64_t count = 0;
  std::vector<float> lower; // lower triangle valid (ssyrk)
  std::vector<float> scaled;
};

struct GptqTimings {
  double prepare = 0;  // parameters, permutation, damping
  double cholesky = 0; // the three factorization steps
  double sweep = 0;    // quantization with error feedback
};

struct GptqResult {
  /// The quantized weight (dequantized values, [rows, cols] in the original
  /// column order): each element is on its slot's grid, so fake-quantizing
  /// it with `params` returns it unchanged.
  std::vector<float> weight;
  /// The parameters per slot of the spec's layout of [rows, cols].
  QuantParams params;
  /// GPTQ's reported error: sum over elements of (w - q)^2 / Hinv_ii^2 / 2.
  double loss = 0;
  /// Columns whose diag(H) was zero (never activated): set to zero.
  int64_t deadColumns = 0;
  GptqTimings timings;
};

/// Quantizes weight [rows, cols] (row-major, PyTorch's [out, in]) given the
/// Hessian of its inputs (cols x cols, consumed). Supports per-tensor,
/// per-channel (axis 0) and per-group (last axis) integer, scaled-float and
/// MX specs.
llvm::Expected<GptqResult> gptqQuantize(const TensorQuantSpec &spec,
                                        int64_t rows, int64_t cols,
                                        llvm::ArrayRef<float> weight,
                                        std::vector<float> hessian,
                                        const GptqOptions &options);

/// Round-to-nearest with the same spec (what GPTQ improves on): parameters
/// from the whole weight, each element fake-quantized.
llvm::Expected<std::vector<float>> rtnQuantize(const TensorQuantSpec &spec,
                                               int64_t rows, int64_t cols,
                                               llvm::ArrayRef<float> weight);

/// Sets OpenBLAS's thread count (0: all cores).
void setBlasThreads(int threads);

} // namespace mlir::quark

#endif // QUARK_ALGORITHMS_GPTQ_H
