//===- SpecNumerics.h - From #quark.spec to the Support numerics -*- C++
//-*-===//
//
// The bridge between the IR (quark dialect attributes, dense constants) and
// the IR-free numerics library: what a spec means numerically, and how
// tensor values and codes move between DenseElementsAttr and plain buffers.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_ANALYSIS_SPECNUMERICS_H
#define QUARK_ANALYSIS_SPECNUMERICS_H

#include "quark/Dialect/Quark/IR/QuarkDialect.h"
#include "quark/Support/Packing.h"
#include "quark/Support/QuantLayout.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"

#include <vector>

namespace mlir::quark {

/// Support's data type for a dialect dtype (the two share Quark's names).
QuantDType toQuantDType(Dtype dtype);

/// The precision a float type holds (bf16, f16; float32 for the rest): what
/// roundScale rounds to.
ScalePrecision floatTypePrecision(Type floatType);

/// The numerics of `spec` for a tensor of floats of type `modelFloatType`
/// (which resolves scale_type = "float" to the model's precision). Fails,
/// through `emitError`, for parts of Quark's model this build cannot compute.
FailureOr<TensorQuantSpec>
getTensorQuantSpec(TensorSpecAttr spec, Type modelFloatType,
                   function_ref<InFlightDiagnostic()> emitError);

/// Every element of a float DenseElementsAttr, converted to float32.
std::vector<float> readFloats(DenseElementsAttr attr);
/// A float DenseElementsAttr of `type` holding `values` (rounded to the
/// element type, nearest-even).
DenseElementsAttr makeFloats(ShapedType type, ArrayRef<float> values);
/// Integer elements widened to int32.
std::vector<int32_t> readInts(DenseElementsAttr attr);

/// Codes of element type `codeElement` (a !quant or !quark.qfloat type)
/// held in a raw storage constant (see quark.storage_cast), as int32:
/// integer values with the code type's signedness, or float bit patterns.
std::vector<int32_t> readCodes(DenseElementsAttr storage, Type codeElement);
/// The raw storage constant of `codes` for a tensor of `storageType`.
DenseElementsAttr makeCodes(ShapedType storageType, ArrayRef<int32_t> codes);

/// The word order of a pack/unpack op's `pack_method` (reorder when unset).
Int4PackOrder toPackOrder(std::optional<PackMethod> method);

/// quark.pack on int32 codes of a `codeShape` tensor of `codeElement`:
/// returns the packed words (int4) or bytes (fp4, fp6, int3) as int32.
std::vector<int32_t> packCodes(Type codeElement, ArrayRef<int64_t> codeShape,
                               ArrayRef<int32_t> codes,
                               std::optional<PackMethod> method);
/// packCodes written straight into the stored bytes of the packed tensor
/// (little-endian words for int4), without intermediate vectors: the
/// streaming weight quantizer's path. `out` holds exactly those bytes.
void packCodesToStorage(Type codeElement, ArrayRef<int64_t> codeShape,
                        ArrayRef<int32_t> codes,
                        std::optional<PackMethod> method,
                        MutableArrayRef<uint8_t> out);
/// quark.unpack: the inverse of packCodes.
std::vector<int32_t> unpackCodes(Type codeElement, ArrayRef<int64_t> codeShape,
                                 ArrayRef<int32_t> packed,
                                 std::optional<PackMethod> method);

} // namespace mlir::quark

#endif // QUARK_ANALYSIS_SPECNUMERICS_H
