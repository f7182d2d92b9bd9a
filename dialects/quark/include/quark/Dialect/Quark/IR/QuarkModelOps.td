//===- QuarkModelOps.td - Transformer building blocks ------*- tablegen -*-===//
//
// The layers a decoder-only language model is made of, at the granularity
// quantization works on: every linear layer is one op carrying its Hugging
// Face module name, so Quark's layer-name patterns apply to the IR directly.
// Activations are [batch, sequence, features] tensors; weights are
// quark.param references into the model's checkpoint, never inline data.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_DIALECT_QUARKMODELOPS_TD
#define QUARK_DIALECT_QUARKMODELOPS_TD

include "quark/Dialect/Quark/IR/QuarkBase.td"
include "quark/Dialect/Quark/IR/QuarkAttrs.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Quark_ActivationKind : I32EnumAttr<"ActivationKind", "activation function", [
    I32EnumAttrCase<"silu", 0>,
    I32EnumAttrCase<"relu", 1>,
    // GELU with the exact erf, and its tanh approximation.
    I32EnumAttrCase<"gelu", 2>,
    I32EnumAttrCase<"gelu_tanh", 3>,
  ]> {
  let cppNamespace = "::mlir::quark";
}

def Quark_RopeScalingAttr : AttrDef<Quark_Dialect, "RopeScaling"> {
  let mnemonic = "rope_scaling";
  let summary = "Rotary embedding frequency scaling (config.json rope_scaling)";
  let description = [{
    `type = "linear"` divides positions by `factor`. `type = "llama3"`
    rescales the inverse frequencies as Llama 3.1 does: wavelengths longer
    than `original_max_position_embeddings / low_freq_factor` are divided
    by `factor`, shorter than `.../ high_freq_factor` are kept, and the band
    between is interpolated.
  }];
  let parameters = (ins
    StringRefParameter<>:$type,
    "::mlir::FloatAttr":$factor,
    OptionalParameter<"::mlir::FloatAttr">:$low_freq_factor,
    OptionalParameter<"::mlir::FloatAttr">:$high_freq_factor,
    OptionalParameter<"::mlir::IntegerAttr">:$original_max_position_embeddings
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def Quark_ActTensor : RankedTensorOf<[AnyFloat]>;
def Quark_WeightTensor : RankedTensorOf<[AnyFloat]>;

class Quark_ModelOp<string mnemonic, list<Trait> traits = []>
    : Quark_Op<mnemonic, !listconcat(traits, [Pure])>;

def Quark_ParamOp : Quark_ModelOp<"param"> {
  let summary = "A named weight of the model's checkpoint";
  let description = [{
    The tensor `name` of the model's safetensors checkpoint (the folder in
    the module's `quark.model_dir` attribute), or of the safetensors file
    `file` (an absolute path, or relative to that folder) when given. The
    IR only references the data, so a 70B model's IR stays small. An
    integer result holds stored codes (real-quantized weights, see
    `quark.storage_cast`).

    `layout` says how the file holds the value when it is not element for
    element (a reloaded Quark hf_format checkpoint): `transposed` (the file
    holds the 2-D transpose), `int4_reorder` / `uint4_order` / ... (4-bit
    codes packed eight per int32 word along the stored last dimension),
    `fp4`, `fp6` (packed bytes), `e8m0` / `e5m3` (float values as E8M0
    exponent bytes or unsigned e5m3 bytes), comma-separated in encoding
    order. Loading inverts it, so the
    result has the logical shape.

    ```mlir
    %w = quark.param "model.layers.0.self_attn.q_proj.weight" : tensor<4096x4096xbf16>
    %c = quark.param "model.layers.0.mlp.up_proj.weight" from "/out/quantized-weights.safetensors"
           : tensor<11008x4096xi8>
    %g = quark.param "model.layers.0.mlp.up_proj.weight" layout "transposed,uint4_reorder"
           : tensor<11008x4096xi4>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<StrAttr>:$file,
                       OptionalAttr<StrAttr>:$layout);
  let results = (outs RankedTensorOf<[AnyFloat, AnyInteger]>:$result);
  let assemblyFormat =
      "$name (`from` $file^)? (`layout` $layout^)? attr-dict `:` type($result)";
}

def Quark_EmbeddingOp : Quark_ModelOp<"embedding"> {
  let summary = "Looks up token embeddings";
  let description = [{
    `result[b, s, :] = table[ids[b, s], :]`, converted to the result's
    float type.
  }];
  let arguments = (ins RankedTensorOf<[AnySignlessInteger]>:$ids,
                       Quark_WeightTensor:$table,
                       OptionalAttr<StrAttr>:$name);
  let results = (outs Quark_ActTensor:$result);
  let assemblyFormat = [{
    $ids `,` $table attr-dict `:` type($ids) `,` type($table) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Quark_PositionEmbeddingOp : Quark_ModelOp<"position_embedding"> {
  let summary = "Adds learned absolute position embeddings";
  let description = [{
    `result[b, s, :] = input[b, s, :] + table[offset + s, :]`; OPT stores its
    table with an offset of 2.
  }];
  let arguments = (ins Quark_ActTensor:$input, Quark_WeightTensor:$table,
                       I64Attr:$offset, OptionalAttr<StrAttr>:$name);
  let results = (outs Quark_ActTensor:$result);
  let assemblyFormat = [{
    $input `,` $table attr-dict `:` type($input) `,` type($table) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Quark_LinearOp : Quark_ModelOp<"linear"> {
  let summary = "A linear layer: input @ weight^T + bias";
  let description = [{
    `weight` is `[out_features, in_features]` (PyTorch's layout); `input`
    has `in_features` in its last dimension. `name` is the layer's module
    name, the key of Quark's layer patterns and of the exported tensors
    (`<name>.weight`, `<name>.weight_scale`, ...). `quant`, set by
    `quark-apply-config`, is how the layer is to be quantized (Quark's
    QLayerConfig); the quantization passes read it.

    ```mlir
    %q = quark.linear %x, %wq {name = "model.layers.0.self_attn.q_proj"}
           : tensor<1x128x512xf32>, tensor<512x512xbf16> -> tensor<1x128x512xf32>
    ```
  }];
  let arguments = (ins Quark_ActTensor:$input, Quark_WeightTensor:$weight,
                       Optional<Quark_WeightTensor>:$bias, StrAttr:$name,
                       OptionalAttr<Quark_LayerSpecAttr>:$quant);
  let results = (outs Quark_ActTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:` type($input) `,`
    type($weight) (`,` type($bias)^)? `->` type($result)
  }];
  let hasVerifier = 1;
}

def Quark_RMSNormOp : Quark_ModelOp<"rms_norm"> {
  let summary = "Root-mean-square normalization over the last dimension";
  let description = [{
    `x * rsqrt(mean(x^2) + epsilon) * weight`, computed in float32. With
    `group_size`, each consecutive slice of that many features is normalized
    on its own and `weight` has `group_size` entries (Qwen3's per-head q/k
    norm).
  }];
  let arguments = (ins Quark_ActTensor:$input, Quark_WeightTensor:$weight,
                       F64Attr:$epsilon, OptionalAttr<I64Attr>:$group_size,
                       OptionalAttr<StrAttr>:$name);
  let results = (outs Quark_ActTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Quark_LayerNormOp : Quark_ModelOp<"layer_norm"> {
  let summary = "Layer normalization over the last dimension";
  let description = [{
    `(x - mean(x)) * rsqrt(var(x) + epsilon) * weight + bias`, with the
    biased variance, as torch.nn.LayerNorm.
  }];
  let arguments = (ins Quark_ActTensor:$input, Quark_WeightTensor:$weight,
                       Quark_WeightTensor:$bias, F64Attr:$epsilon,
                       OptionalAttr<StrAttr>:$name);
  let results = (outs Quark_ActTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias attr-dict `:` type($input) `,` type($weight)
    `,` type($bias) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Quark_RopeOp : Quark_ModelOp<"rope"> {
  let summary = "Rotary position embedding, Hugging Face's rotate-half form";
  let description = [{
    For each head of `head_dim` features in the last dimension, at sequence
    position `s`, with `inv_freq[i] = theta^(-2i / head_dim)` (rescaled by
    `scaling` if present) and `angle = s * inv_freq[i]`:

    ```
    out[i]        = x[i] * cos(angle) - x[i + head_dim/2] * sin(angle)
    out[i + d/2]  = x[i + d/2] * cos(angle) + x[i] * sin(angle)
    ```

    This is the convention of Hugging Face checkpoints (`rotate_half`);
    llama.cpp's GGUF files permute q/k rows for the adjacent-pair form.
  }];
  let arguments = (ins Quark_ActTensor:$input, I64Attr:$head_dim,
                       F64Attr:$theta,
                       OptionalAttr<Quark_RopeScalingAttr>:$scaling);
  let results = (outs Quark_ActTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Quark_AttentionOp : Quark_ModelOp<"attention"> {
  let summary = "Scaled dot-product self-attention with grouped KV heads";
  let description = [{
    `q` is `[b, s, num_heads * head_dim]`, `k` and `v` are
    `[b, s, num_kv_heads * head_dim]`; query head `h` attends with KV head
    `h / (num_heads / num_kv_heads)`. Scores are `q . k * scale`, causally
    masked, optionally restricted to the last `sliding_window` positions,
    softmaxed in float32. The result is `[b, s, num_heads * head_dim]`.

    `softmax_spec` (Quark's `softmax_quant_spec`, a static per-tensor spec)
    quantizes the probabilities before they weight the values; calibration
    records their maximum in `softmax_max`, and freezing turns it into
    `softmax_scale`.
  }];
  let arguments = (ins Quark_ActTensor:$q, Quark_ActTensor:$k,
                       Quark_ActTensor:$v, I64Attr:$num_heads,
                       I64Attr:$num_kv_heads, I64Attr:$head_dim, F64Attr:$scale,
                       OptionalAttr<I64Attr>:$sliding_window,
                       OptionalAttr<Quark_TensorSpecAttr>:$softmax_spec,
                       OptionalAttr<F32Attr>:$softmax_max,
                       OptionalAttr<F32Attr>:$softmax_scale);
  let results = (outs Quark_ActTensor:$result);
  let assemblyFormat = [{
    $q `,` $k `,` $v attr-dict `:` type($q) `,` type($k) `,` type($v)
    `->` type($result)
  }];
  let hasVerifier = 1;
}

def Quark_ActivationOp : Quark_ModelOp<"activation",
    [AllTypesMatch<["input", "result"]>]> {
  let summary = "An elementwise activation function";
  let arguments = (ins Quark_ActTensor:$input, Quark_ActivationKind:$kind);
  let results = (outs Quark_ActTensor:$result);
  let assemblyFormat = "$kind $input attr-dict `:` type($input)";
}

def Quark_GatedActivationOp : Quark_ModelOp<"gated_activation",
    [AllTypesMatch<["gate", "up", "result"]>]> {
  let summary = "activation(gate) * up, as in SwiGLU MLPs";
  let arguments = (ins Quark_ActTensor:$gate, Quark_ActTensor:$up,
                       Quark_ActivationKind:$kind);
  let results = (outs Quark_ActTensor:$result);
  let assemblyFormat = "$kind $gate `,` $up attr-dict `:` type($gate)";
}

def Quark_HadamardOp : Quark_ModelOp<"hadamard",
    [AllTypesMatch<["input", "result"]>]> {
  let summary = "Online Hadamard rotation of the last dimension (QuaRot R4)";
  let description = [{
    `result = input M` over the last dimension n, with
    `M = (H_K (x) H_{n/K})^T / sqrt(n)` as quark-rotate builds it (Sylvester
    for powers of two; K the first of QuaRot's factors 172, 156, 140, 108,
    60, 52, 36, 28, 40, 20, 12 with n/K a power of two, else the odd part
    of n; an orthonormal DCT-II of order K where no Hadamard matrix of
    that order is built, see quark/Support/Hadamard.h). quark-rotate puts
    it before down_proj and multiplies that weight by M, so the layer
    computes the same function while down_proj's input, rotated, has its
    outliers spread over every channel.

    ```mlir
    %r = quark.hadamard %h {name = "model.layers.0.mlp.down_proj.online_rotation"} : tensor<?x?x768xf32>
    ```
  }];
  let arguments = (ins Quark_ActTensor:$input, OptionalAttr<StrAttr>:$name);
  let results = (outs Quark_ActTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Quark_TopKRouterOp : Quark_ModelOp<"topk_router"> {
  let summary = "Mixture-of-experts routing: softmax, then the top k experts";
  let description = [{
    From router logits `[b, s, num_experts]`: the softmax probabilities (in
    float32), the `top_k` largest and their expert indices, each
    `[b, s, top_k]`, largest first. With `normalize`, the selected weights
    are divided by their sum (Mixtral; Qwen2-MoE's `norm_topk_prob`).
  }];
  let arguments = (ins Quark_ActTensor:$logits, I64Attr:$top_k,
                       BoolAttr:$normalize);
  let results = (outs Quark_ActTensor:$weights,
                      RankedTensorOf<[I32]>:$indices);
  let assemblyFormat = [{
    $logits attr-dict `:` type($logits) `->` type($weights) `,` type($indices)
  }];
  let hasVerifier = 1;
}

def Quark_MoEOp : Quark_Op<"moe", [RecursiveMemoryEffects,
    SingleBlockImplicitTerminator<"::mlir::quark::YieldOp">]> {
  let summary = "A mixture of experts: each token through its routed experts";
  let description = [{
    Region `e` is expert `e`: it receives the `[n, hidden]` tokens routed to
    it and yields their `[n, hidden]` outputs. A token's result is the sum
    over its `top_k` selections of `weights * expert_output`. Experts hold
    their own quark.param and quark.linear ops, so per-expert layer names
    (`model.layers.0.block_sparse_moe.experts.3.w1`) are visible to
    quantization.
  }];
  let arguments = (ins Quark_ActTensor:$input, Quark_ActTensor:$weights,
                       RankedTensorOf<[I32]>:$indices);
  let results = (outs Quark_ActTensor:$result);
  let regions = (region VariadicRegion<SizedRegion<1>>:$experts);
  let assemblyFormat = [{
    $input `,` $weights `,` $indices attr-dict `:` type($input) `,`
    type($weights) `,` type($indices) `->` type($result) $experts
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
}

def Quark_BlockOp : Quark_Op<"block", [IsolatedFromAbove,
    RecursiveMemoryEffects,
    SingleBlockImplicitTerminator<"::mlir::quark::YieldOp">]> {
  let summary = "A named sub-module, typically one decoder layer";
  let description = [{
    Runs its region on `inputs` and returns what it yields. Isolated from
    above, so a decoder layer can be analysed, calibrated and transformed on
    its own; `name` is the module path (`model.layers.3`).

    ```mlir
    %h1 = quark.block "model.layers.0" (%h0) : (tensor<1x?x512xf32>) -> tensor<1x?x512xf32> {
    ^bb0(%x: tensor<1x?x512xf32>):
      ...
      quark.yield %y : tensor<1x?x512xf32>
    }
    ```
  }];
  let arguments = (ins StrAttr:$name, Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    $name `(` $inputs `)` attr-dict `:` functional-type($inputs, $results)
    $body
  }];
  let hasRegionVerifier = 1;
}

def Quark_YieldOp : Quark_Op<"yield", [Pure, Terminator,
    ParentOneOf<["BlockOp", "MoEOp"]>, ReturnLike]> {
  let summary = "Returns the results of a quark.block or an expert";
  let arguments = (ins Variadic<AnyType>:$values);
  let builders = [OpBuilder<(ins), [{ build($_builder, $_state, {}); }]>];
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
}

#endif // QUARK_DIALECT_QUARKMODELOPS_TD
