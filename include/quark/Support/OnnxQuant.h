//===- OnnxQuant.h - ONNX QuantizeLinear semantics --------------*- C++ -*-===//
//
// ONNX defines its quantize operators with a true division (Quark's own
// fake-quantize multiplies by the reciprocal; see ScalarQuant.h):
//
//   QuantizeLinear:        y = saturate(round_half_even(x / scale) + zp)
//   DequantizeLinear:      x = (y - zp) * scale
//   DynamicQuantizeLinear: x_min = min(0, min x), x_max = max(0, max x),
//                          scale = (x_max - x_min) / 255,
//                          zp = round_half_even(clip(-x_min / scale, 0, 255))
//
// The ONNX exporter and its tests use these; they are checked against the
// node tests of Debian's libonnx-testdata.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_ONNXQUANT_H
#define QUARK_SUPPORT_ONNXQUANT_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>

namespace mlir::quark {

int32_t onnxQuantizeLinear(float x, float scale, int32_t zeroPoint,
                           int64_t qmin, int64_t qmax);
float onnxDequantizeLinear(int32_t code, float scale, int32_t zeroPoint);

struct OnnxDynamicQuantParams {
  float scale;
  int32_t zeroPoint;
};
/// uint8 DynamicQuantizeLinear parameters of `data`.
OnnxDynamicQuantParams onnxDynamicQuantizeParams(llvm::ArrayRef<float> data);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_ONNXQUANT_H
