//===- QuarkHfLayout.h - Quark hf_format tensors of a quantizer -*- C++ -*-===//
//
// Which file tensors Quark's hf_format writes for one quantized tensor
// (a weight, or a static activation's parameters), with their dtypes,
// shapes and stored layouts (quark-semantics.md, 2.3 and 2.4):
//
//  * codes: int8/uint8 as I8/U8, int4/uint4 packed eight per I32 word
//    (`pack_method` order), fp8 as F8_E4M3/F8_E5M2, fp4 / fp6 packed into
//    U8; integer per-group tensors transposed to [in, out] first;
//  * `_scale`: the precision scale_type names (F32, or the model's BF16 /
//    F16), E8M0 bytes for MX; transposed like the codes;
//  * `_zero_point`: for every integer dtype, symmetric included (Quark
//    registers one per integer quantizer; vLLM's int8 scheme loads it):
//    I8/U8 for 8-bit codes, packed I32 words for 4-bit codes.
//
// The exporter writes with these, the checker expects them and a reload
// decodes with them, so config and bytes cannot disagree.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_QUARKHFLAYOUT_H
#define QUARK_SUPPORT_QUARKHFLAYOUT_H

#include "quark/Support/QuantLayout.h"
#include "quark/Support/StoredLayout.h"

#include <optional>
#include <string>

namespace mlir::quark {

struct HfStoredTensor {
  /// Appended to the quantized tensor's name: "" for a weight's codes
  /// ("<layer>.weight"), "_scale", "_zero_point".
  std::string suffix;
  TensorDType dtype;
  /// The shape the model uses ([out, in] codes, the layout's parameter
  /// shape) and the shape in the file.
  llvm::SmallVector<int64_t, 4> logicalShape;
  llvm::SmallVector<int64_t, 4> storedShape;
  StoredLayout layout;
};

struct HfQuantizedTensor {
  /// Only for weights: activations store parameters only.
  std::optional<HfStoredTensor> codes;
  HfStoredTensor scale;
  std::optional<HfStoredTensor> zeroPoint;
  /// A progressive weight's first-stage (per-tensor) scale, "_scale";
  /// `scale` and `zeroPoint` are then the second stage's, "_scale_2" and
  /// "_zero_point_2".
  std::optional<HfStoredTensor> firstStageScale;
  /// A scale-quantizing weight's (NVFP4, amdfp4_global) second-stage
  /// per-tensor scale, "_scale_2"; `scale` then holds the second stage's
  /// codes (F8_E4M3 for e4m3, U8 bytes for the unsigned e5m3).
  std::optional<HfStoredTensor> scaleOfScales;
};

/// The hf_format tensors of a tensor of `shape` quantized by `spec`, whose
/// parameters have `paramShape` (QuantLayout::paramShape()). Fails for what
/// Quark's format cannot hold (block formats, the legacy interleaved `mx`
/// dtype, integers wider than 8 bits, E4M3 block scales without their
/// per-tensor stage: quarkHfWeightLayout holds NVFP4).
llvm::Expected<HfQuantizedTensor>
quarkHfLayout(const TensorQuantSpec &spec, llvm::ArrayRef<int64_t> shape,
              llvm::ArrayRef<int64_t> paramShape, bool isWeight,
              Int4PackOrder packOrder);

/// The stage of a two-stage weight spec that is not stored as codes.
struct HfOtherStage {
  TensorQuantSpec spec;
  /// Scale-quantizing (NVFP4): the stored codes are the first stage's and
  /// `spec` quantizes their block scales. Otherwise progressive (int4_fp8):
  /// the stored codes are the second stage's and `spec` is the first.
  bool quantizesScales = false;
};

/// The hf_format tensors of a weight of `shape` whose stored codes follow
/// `stored` (parameters `paramShape`):
///  * one-stage: quarkHfLayout;
///  * progressive: the second stage's codes and parameters with Quark's
///    stage-1 suffix `_2`, and the first stage's per-tensor scale without;
///  * scale-quantizing (a per-tensor fp8_e4m3 second stage, NVFP4, or
///    fp8_e5m3, amdfp4_global): the first stage's codes, its block scales
///    as the second stage's codes in "_scale" (F8_E4M3, or e5m3 bytes as
///    U8), and the second stage's scale as quarkHfScaleOfScales, as vLLM's
///    QuarkNVFP4 loads them.
llvm::Expected<HfQuantizedTensor> quarkHfWeightLayout(
    const TensorQuantSpec &stored, const std::optional<HfOtherStage> &other,
    llvm::ArrayRef<int64_t> shape, llvm::ArrayRef<int64_t> paramShape,
    Int4PackOrder packOrder);

/// "_scale_2" (F32 []): a scale-quantizing spec's per-tensor second-stage
/// scale, of a weight or of an input (vLLM's `input_scale_2`).
HfStoredTensor quarkHfScaleOfScales();

} // namespace mlir::quark

#endif // QUARK_SUPPORT_QUARKHFLAYOUT_H
