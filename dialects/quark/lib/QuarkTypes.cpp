//===- QuarkTypes.cpp - Narrow float storage types ------------------------===//

#include "quark/Dialect/Quark/IR/QuarkDialect.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::quark;

#define GET_TYPEDEF_CLASSES
#include "quark/Dialect/Quark/IR/QuarkTypes.cpp.inc"

void QuarkDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "quark/Dialect/Quark/IR/QuarkTypes.cpp.inc"
      >();
}

LogicalResult QFloatType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 Dtype format) {
  if (!isFloatCodeDtype(format))
    return emitError() << "!quark.qfloat holds fp8, fp6 or fp4 codes; got "
                       << stringifyDtype(format);
  return success();
}

unsigned QFloatType::getBitWidth() const {
  switch (getFormat()) {
  case Dtype::fp6_e2m3:
  case Dtype::fp6_e3m2:
    return 6;
  case Dtype::fp4:
    return 4;
  default:
    return 8;
  }
}

FloatType QFloatType::getBuiltinFloatType() const {
  MLIRContext *context = getContext();
  switch (getFormat()) {
  case Dtype::fp8_e4m3:
    return Float8E4M3FNType::get(context);
  case Dtype::fp8_e4m3fnuz:
    return Float8E4M3FNUZType::get(context);
  case Dtype::fp8_e5m2:
    return Float8E5M2Type::get(context);
  case Dtype::fp8_e5m2fnuz:
    return Float8E5M2FNUZType::get(context);
  case Dtype::fp6_e2m3:
    return Float6E2M3FNType::get(context);
  case Dtype::fp6_e3m2:
    return Float6E3M2FNType::get(context);
  case Dtype::fp4:
    return Float4E2M1FNType::get(context);
  default:
    return {}; // fp8_e5m3 has no builtin counterpart
  }
}
