//===- QuarkTypes.td - Narrow float storage types ----------*- tablegen -*-===//

#ifndef QUARK_DIALECT_QUARKTYPES_TD
#define QUARK_DIALECT_QUARKTYPES_TD

include "quark/Dialect/Quark/IR/QuarkBase.td"
include "quark/Dialect/Quark/IR/QuarkEnums.td"
include "mlir/IR/AttrTypeBase.td"

def Quark_QFloatType : TypeDef<Quark_Dialect, "QFloat"> {
  let mnemonic = "qfloat";
  let summary = "A code of a scaled narrow float (fp8, fp6, fp4)";
  let description = [{
    The element type of a tensor of narrow-float quantization codes: the
    value is `decode(code) * scale`, with the scale held elsewhere (an
    operand of the op that produced or consumes it). The upstream quant
    dialect only allows integer storage, hence this type.

    ```mlir
    tensor<4096x4096x!quark.qfloat<fp8_e4m3>>
    tensor<128x64x!quark.qfloat<fp4>>
    ```

    `format` is one of fp8_e4m3, fp8_e4m3fnuz, fp8_e5m2, fp8_e5m2fnuz,
    fp8_e5m3, fp6_e2m3, fp6_e3m2, fp4.
  }];
  let parameters = (ins EnumParameter<Quark_Dtype>:$format);
  let assemblyFormat = "`<` $format `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Bits per code: 8, 6 or 4.
    unsigned getBitWidth() const;
    /// The builtin float type with the same encoding (f8E4M3FN, f4E2M1FN,
    /// ...), or null for fp8_e5m3, which has none.
    ::mlir::FloatType getBuiltinFloatType() const;
  }];
}

#endif // QUARK_DIALECT_QUARKTYPES_TD
