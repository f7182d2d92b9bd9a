//===- Passes.td - quark framework passes ------------------*- tablegen -*-===//
//
// One pass per file in lib/quark/Transforms; the def name, the CLI flag, the
// source file and the lit test share one name.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_TRANSFORMS_PASSES_TD
#define QUARK_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def QuarkExpandFakeQuant : Pass<"quark-expand-fake-quant"> {
  let summary = "Rewrites quark.fake_quant as explicit quantize / dequantize";
  let description = [{
    Makes simulated quantization explicit: every `quark.fake_quant` whose
    format has a storage encoding becomes `quark.quantize` followed by
    `quark.dequantize`. Parameters that a dynamic or MX spec derives from the
    data are materialized with `quark.compute_qparams`. The block formats
    (mx6, mx9, bfp16) have no storage encoding and are left as they are.

    The expansion computes the same values as the fake-quantize for every
    finite input. Storage cannot hold non-finite values: NaN becomes the
    zero point (integers) or the format's NaN / largest value (floats), and
    Inf saturates.

    ```mlir
    %y = quark.fake_quant %x scale(%s : tensor<f32>) {spec = #fp8} : tensor<4x8xf32>
    // becomes
    %q = quark.quantize %x scale(%s : tensor<f32>) {spec = #fp8}
           : tensor<4x8xf32> -> tensor<4x8x!quark.qfloat<fp8_e4m3>>
    %y = quark.dequantize %q scale(%s : tensor<f32>) {spec = #fp8}
           : tensor<4x8x!quark.qfloat<fp8_e4m3>> -> tensor<4x8xf32>
    ```
  }];
  let dependentDialects = ["::mlir::quark::QuarkDialect",
                           "::mlir::quant::QuantDialect"];
  let statistics = [
    Statistic<"numExpanded", "expanded", "fake_quant ops rewritten">,
    Statistic<"numBlockFormat", "kept-block-format",
              "mx6/mx9/bfp16 fake_quant ops without storage form">,
  ];
}

def QuarkFoldConstants : Pass<"quark-fold-constants"> {
  let summary = "Evaluates quark ops on constant operands with Quark's numerics";
  let description = [{
    Replaces `quark.compute_qparams`, `quark.fake_quant`, `quark.quantize`,
    `quark.dequantize`, `quark.pack` and `quark.unpack` whose operands are
    constants by constants computed with the project's Quark-exact numerics
    (round half to even, Quark's reciprocal multiply, saturation, OCP MX
    scale rounding, Quark's packing layouts). Codes are materialized as raw
    storage constants behind `quark.storage_cast`.

    This is how weights are baked into their quantized form in small test
    modules; model-sized weights live outside the IR and are quantized by the
    weight-quantization passes instead.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::quark::QuarkDialect"];
  let statistics = [
    Statistic<"numFolded", "folded", "quark ops replaced by constants">,
  ];
}

#endif // QUARK_TRANSFORMS_PASSES_TD
