//===- QuarkDialect.h - The quark dialect -----------------------*- C++ -*-===//
//
// Dialect, enums, attributes (quantization specs) and types. Include
// QuarkOps.h for the operations.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_DIALECT_QUARK_IR_QUARKDIALECT_H
#define QUARK_DIALECT_QUARK_IR_QUARKDIALECT_H

#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectImplementation.h"

#include <optional>

#include "quark/Dialect/Quark/IR/QuarkDialect.h.inc"
#include "quark/Dialect/Quark/IR/QuarkEnums.h.inc"

namespace mlir::quark {
/// Parameter parsers shared by the generated attribute parsers.
FailureOr<std::optional<bool>> parseBoolValue(AsmParser &parser);
FailureOr<SmallVector<int64_t>> parseIntegerList(AsmParser &parser);
void printIntegerList(AsmPrinter &printer, ArrayRef<int64_t> values);
} // namespace mlir::quark

#define GET_ATTRDEF_CLASSES
#include "quark/Dialect/Quark/IR/QuarkAttrs.h.inc"
#define GET_TYPEDEF_CLASSES
#include "quark/Dialect/Quark/IR/QuarkTypes.h.inc"

namespace mlir::quark {

/// True for the float code formats (fp8, fp6, fp4, e5m3).
bool isFloatCodeDtype(Dtype dtype);
/// True for int2 .. int32 and the unsigned integer dtypes.
bool isIntegerDtype(Dtype dtype);
/// Signedness and bit width of an integer dtype.
bool isSignedIntegerDtype(Dtype dtype);
unsigned getIntegerDtypeWidth(Dtype dtype);

/// The tensor element type that holds codes of `spec` with the given
/// expressed (float) type: !quant.any for integers, !quark.qfloat for narrow
/// floats, bf16/f16 for casts; null for formats without storage (mx6, mx9,
/// bfp16).
Type getCodeElementType(TensorSpecAttr spec, Type expressedType);

/// Shape of the scale (and zero point) of a tensor of `shape` quantized with
/// `spec` (dynamic dims propagate as ShapedType::kDynamic). Emits an error
/// through `emitError` and fails when the spec cannot apply to the shape.
FailureOr<SmallVector<int64_t>>
getParamShape(TensorSpecAttr spec, ArrayRef<int64_t> shape,
              function_ref<InFlightDiagnostic()> emitError);

} // namespace mlir::quark

#endif // QUARK_DIALECT_QUARK_IR_QUARKDIALECT_H
