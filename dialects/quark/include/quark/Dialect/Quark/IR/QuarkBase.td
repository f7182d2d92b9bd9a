//===- QuarkBase.td - The quark dialect --------------------*- tablegen -*-===//

#ifndef QUARK_DIALECT_QUARKBASE_TD
#define QUARK_DIALECT_QUARKBASE_TD

include "mlir/IR/OpBase.td"

def Quark_Dialect : Dialect {
  let name = "quark";
  let cppNamespace = "::mlir::quark";
  let summary = "Post-training quantization IR following AMD Quark's model";
  let description = [{
    The `quark` dialect describes how tensors of a neural network are
    quantized, in the vocabulary of AMD Quark (`QTensorConfig`,
    `QLayerConfig`), and carries the operations that observe, quantize,
    dequantize and pack them. It is IR only: no passes and no I/O live here,
    so another compiler can link this dialect alone.

    ### Quantization specifications

    `#quark.spec<...>` is Quark's `QTensorConfig`, field for field, with
    Quark's serialized names as keys:

    ```mlir
    #quark.spec<dtype = int4, qscheme = per_group, ch_axis = 1,
                group_size = 128, symmetric = true, is_dynamic = false,
                round_method = half_even, scale_type = float,
                observer_cls = PerGroupMinMaxObserver>
    ```

    A spec maps a real value `x` to a stored code `q` and back. For an
    integer `dtype` with range `[qmin, qmax]`:

    ```
    q  = clamp(round(x * (1 / scale)) + zero_point, qmin, qmax)
    x' = (q - zero_point) * scale
    ```

    where `round` is `round_method` (half to even by default) and, as in
    Quark, the division is a multiplication by the reciprocal. For a float
    `dtype` (fp8, fp6, fp4) the code is the nearest representable value of
    `x / scale` (ties to even, saturating at the format's largest finite
    value) and `x' = q * scale`. Which elements share a `scale` is set by
    `qscheme`:

    | qscheme       | scale shape for a tensor of shape `[d0 .. dn]`        |
    |---------------|-------------------------------------------------------|
    | `per_tensor`  | `[]`                                                  |
    | `per_channel` | `[d_axis]`, axis = `ch_axis`                          |
    | `per_group`   | the tensor shape with `d_axis` replaced by `d_axis / group_size` |
    | `per_block`   | `[d_i / block_size[i]]` for every `i`                 |

    OCP microscaling (MX) is `qscheme = per_group`, `group_size = 32`,
    `scale_format = e8m0`: every 32 elements share a power-of-two scale,
    computed from the block maximum (`scale_calculation_mode` `even`, Quark's
    default, rounds the maximum up near the next power of two; `floor` is the
    OCP rule). `mx6`, `mx9` and `bfp16` are AMD block formats that Quark can
    simulate but not store: they appear only in `quark.fake_quant`.

    Correct:

    ```mlir
    #quark.spec<dtype = fp4, qscheme = per_group, ch_axis = -1,
                group_size = 32, is_dynamic = false, scale_format = e8m0,
                scale_calculation_mode = even, observer_cls = PerBlockMXObserver>
    ```

    Incorrect (a histogram observer only observes whole tensors):

    ```mlir
    #quark.spec<dtype = int8, qscheme = per_channel, ch_axis = 0, ...
                observer_cls = PerTensorHistogramObserver>
    ```

    `#quark.two_stage<first, second>` is a list of two specs: either the
    second quantizes the *scales* of the first (`is_scale_quant = true`, as
    in NVFP4's fp8 scale-of-scales) or it re-quantizes the values
    (progressive, as in Quark's `int4_fp8`). `#quark.layer_spec<...>` is
    `QLayerConfig`: specs for a layer's `input_tensors`, `output_tensors`,
    `weight` and `bias`.

    ### Quantized values

    Integer codes reuse the upstream quant dialect: `!quant.any<i4:f32>`
    (scales as operands) or `!quant.uniform<i8:f32, 0.5>` (scale in the
    type). Narrow float codes have no upstream quantized type (the quant
    dialect rejects float storage), so they use `!quark.qfloat<fp4>` and
    friends. Packed checkpoints use plain integer tensors (`i32` words of
    eight int4 codes, `ui8` bytes of fp4 / fp6 / int3 codes).
  }];
  let dependentDialects = ["::mlir::quant::QuantDialect"];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerAttributes();
    void registerTypes();
  }];
}

class Quark_Op<string mnemonic, list<Trait> traits = []>
    : Op<Quark_Dialect, mnemonic, traits>;

#endif // QUARK_DIALECT_QUARKBASE_TD
