//===- QuarkDialect.cpp - The quark dialect -------------------------------===//

#include "quark/Dialect/Quark/IR/QuarkOps.h"

#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::quark;

#include "quark/Dialect/Quark/IR/QuarkDialect.cpp.inc"
#include "quark/Dialect/Quark/IR/QuarkEnums.cpp.inc"

namespace {
/// Prints specs as aliases (#spec_int4 = #quark.spec<...>) so that IR with
/// many quantized tensors stays readable.
struct QuarkOpAsmInterface : public OpAsmDialectInterface {
  using OpAsmDialectInterface::OpAsmDialectInterface;

  AliasResult getAlias(Attribute attr, raw_ostream &os) const override {
    if (auto spec = dyn_cast<TensorSpecAttr>(attr)) {
      os << "spec_" << stringifyDtype(spec.getDtype());
      return AliasResult::FinalAlias;
    }
    if (isa<TwoStageSpecAttr>(attr)) {
      os << "two_stage";
      return AliasResult::OverridableAlias;
    }
    if (isa<LayerSpecAttr>(attr)) {
      os << "layer_spec";
      return AliasResult::OverridableAlias;
    }
    return AliasResult::NoAlias;
  }
};
} // namespace

void QuarkDialect::initialize() {
  addInterfaces<QuarkOpAsmInterface>();
  registerAttributes();
  registerTypes();
  addOperations<
#define GET_OP_LIST
#include "quark/Dialect/Quark/IR/QuarkOps.cpp.inc"
      >();
}
