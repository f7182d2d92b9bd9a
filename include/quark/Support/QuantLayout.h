//===- QuantLayout.h - Which elements share quantization params -*- C++ -*-===//
//
// TensorQuantSpec is the numerics-relevant part of a Quark QTensorConfig
// (the quark dialect's #quark.spec attribute), IR-free. QuantLayout maps each
// element of a row-major tensor to the index of its scale / zero point:
//
//   per_tensor   params []               one slot
//   per_channel  params [d_axis]         element -> its index along axis
//   per_group    params shape with d_axis replaced by ceil(d_axis / G)
//                (G = -1 means the whole axis); a group is G consecutive
//                elements along `axis` (Quark's weight [out, in] with
//                ch_axis = 1, G = 128 has scales [out, in / 128])
//   per_block    params [ceil(d_i / b_i)] for every dimension i
//
// MX and the block formats (mx6, mx9, bfp16) are per-group layouts.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_QUANTLAYOUT_H
#define QUARK_SUPPORT_QUANTLAYOUT_H

#include "quark/Support/DataType.h"
#include "quark/Support/Microscaling.h"
#include "quark/Support/Rounding.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string_view>

namespace mlir::quark {

enum class QScheme : uint8_t { PerTensor, PerChannel, PerGroup, PerBlock };

/// How Quark derives (and stores) a scale (QTensorConfig.scale_format):
/// a plain float; an OCP MX power of two (E8M0); a float rounded to AMD's
/// unsigned e5m3; or NVFP4's two-level fp8-e4m3 local scale relative to the
/// tensor's global maximum.
enum class ScaleFormat : uint8_t { Float, E8M0, E5M3, E4M3 };

/// Precision the computed scales are rounded to (QTensorConfig.scale_type,
/// with "float" resolved to the model's dtype).
enum class ScalePrecision : uint8_t { Float32, BFloat16, Float16 };

std::optional<QScheme> parseQScheme(std::string_view name);
std::string_view qschemeName(QScheme scheme);

struct TensorQuantSpec {
  QuantDType dtype = QuantDType::Int8;
  QScheme qscheme = QScheme::PerTensor;
  /// Channel / group axis; negative values count from the end.
  int64_t axis = 0;
  /// per_group: elements per group along `axis`; -1 is the whole axis.
  int64_t groupSize = 0;
  /// per_block: block extent per dimension.
  llvm::SmallVector<int64_t, 2> blockSize;
  bool symmetric = true;
  RoundMode round = RoundMode::HalfEven;
  /// Element type of dtype = mx.
  std::optional<QuantDType> mxElement;
  /// Shared-scale rounding of MX scales (dtype mx, or scale_format e8m0).
  MXScaleMode mxScaleMode = MXScaleMode::Even;
  /// scale_format; E8M0 on a plain fp4/fp6/fp8 dtype is how Quark's mxfp4
  /// scheme writes OCP MX.
  ScaleFormat scaleFormat = ScaleFormat::Float;
  ScalePrecision scalePrecision = ScalePrecision::Float32;

  /// The type each element is stored as (the MX element for dtype = mx).
  QuantDType elementType() const {
    return dtype == QuantDType::MX && mxElement ? *mxElement : dtype;
  }
  /// Scales are powers of two computed per block from the data (OCP MX).
  bool usesMXScales() const {
    return dtype == QuantDType::MX || scaleFormat == ScaleFormat::E8M0;
  }
  /// mx6 / mx9 / bfp16: simulation-only formats without stored parameters.
  bool isBlockFloat() const {
    return getDTypeInfo(dtype).kind == DTypeKind::BlockFloat;
  }
  bool hasZeroPoint() const {
    return getDTypeInfo(elementType()).isInteger() && !symmetric &&
           !usesMXScales();
  }
};

/// A run of consecutive elements [start, start + length) whose parameter
/// slots are slot, slot + slotStride, ...: one shared slot (stride 0, a
/// group or a whole row) or consecutive slots (stride 1). Whole-tensor
/// kernels loop over spans, so their inner loops are plain vectorizable
/// runs instead of an index computation per element.
struct QuantSpan {
  int64_t start;
  int64_t length;
  int64_t slot;
  int64_t slotStride;
};

class QuantLayout {
public:
  /// Checks that `spec` can be applied to a tensor of `shape` and builds the
  /// element -> parameter mapping.
  static llvm::Expected<QuantLayout> get(llvm::ArrayRef<int64_t> shape,
                                         const TensorQuantSpec &spec);

  llvm::ArrayRef<int64_t> shape() const { return shape_; }
  llvm::ArrayRef<int64_t> paramShape() const { return paramShape_; }
  int64_t numElements() const { return numElements_; }
  int64_t numParams() const { return numParams_; }
  QScheme scheme() const { return scheme_; }

  /// Parameter slot of the element at row-major index `flatIndex`.
  int64_t paramIndex(int64_t flatIndex) const;

  /// The spans covering the tensor in element order, by index (so that
  /// work can be split into chunks of spans).
  int64_t numSpans() const;
  QuantSpan span(int64_t index) const;

  /// For grouped layouts: number of elements of the group holding slot
  /// `param` and the stride between them (elements of one group lie along
  /// `axis`). Used to gather a block for the MX / block-float kernels.
  int64_t groupExtent(int64_t param) const;
  int64_t axisStride() const { return inner_; }
  /// Row-major index of the first element of parameter slot `param`
  /// (grouped layouts only).
  int64_t groupStart(int64_t param) const;

private:
  QScheme scheme_ = QScheme::PerTensor;
  llvm::SmallVector<int64_t, 4> shape_;
  llvm::SmallVector<int64_t, 4> paramShape_;
  llvm::SmallVector<int64_t, 4> blockSize_;
  int64_t numElements_ = 1;
  int64_t numParams_ = 1;
  // per_channel / per_group view of the tensor as [outer, axisLen, inner].
  int64_t axisLen_ = 1;
  int64_t inner_ = 1;
  int64_t groupSize_ = 1;
  int64_t numGroups_ = 1;
  // per_block: the last dimension and its block extent.
  int64_t lastDim_ = 1;
  int64_t lastBlock_ = 1;
};

} // namespace mlir::quark

#endif // QUARK_SUPPORT_QUANTLAYOUT_H
