//===- QuarkSpecJsonFuzzer.cpp - Fuzz Quark's QLayerConfig JSON reader ----===//
//
// The input is read as --json-to-quark-spec reads it: a JSON object whose
// values are QLayerConfig dicts (the per-layer-type dicts of a Quark
// config.json) or QTensorConfig fields. Errors become diagnostics, which are
// swallowed; what is accepted must print back to JSON.
//
//===----------------------------------------------------------------------===//

#include "quark/Dialect/Quark/IR/QuarkDialect.h"
#include "quark/Target/QuarkSpecJson.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <cstddef>
#include <cstdint>

using namespace mlir;
using namespace mlir::quark;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static MLIRContext *context = [] {
    auto *ctx = new MLIRContext();
    ctx->loadDialect<QuarkDialect>();
    return ctx;
  }();
  llvm::Expected<llvm::json::Value> value = llvm::json::parse(
      llvm::StringRef(reinterpret_cast<const char *>(data), size));
  if (!value) {
    llvm::consumeError(value.takeError());
    return 0;
  }
  ScopedDiagnosticHandler silence(context,
                                  [](Diagnostic &) { return success(); });
  Location loc = UnknownLoc::get(context);
  auto emitError = [&] { return mlir::emitError(loc); };
  const llvm::json::Object *object = value->getAsObject();
  if (!object)
    return 0;
  for (const auto &[key, entry] : *object) {
    const llvm::json::Object *dict = entry.getAsObject();
    if (dict && !dict->get("dtype")) {
      FailureOr<LayerSpecAttr> layer =
          layerSpecFromJson(context, entry, key, emitError);
      if (succeeded(layer))
        (void)layerSpecToJson(*layer, emitError);
    } else {
      FailureOr<Attribute> field =
          specFieldFromJson(context, entry, key, emitError);
      if (succeeded(field) && *field)
        (void)specFieldToJson(*field, emitError);
    }
  }
  return 0;
}
