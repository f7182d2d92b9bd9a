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
    data are materialized with `quark.compute_qparams`. A scale-quantizing
    `quark.two_stage_fake_quant` (NVFP4, amdfp4_global) becomes
    `quark.compute_block_scales` and the quantize / dequantize pair of its
    first stage. The block formats (mx6, mx9, bfp16) have no storage
    encoding, and progressive two-stage specs (int4_fp8) no single code
    tensor; both are left as they are.

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
    Statistic<"numProgressive", "kept-progressive",
              "progressive two_stage_fake_quant ops kept">,
  ];
}

def QuarkFoldConstants : Pass<"quark-fold-constants"> {
  let summary = "Evaluates quark ops on constant operands with Quark's numerics";
  let description = [{
    Replaces `quark.compute_qparams`, `quark.compute_block_scales`,
    `quark.fake_quant`, `quark.two_stage_fake_quant`, `quark.quantize`,
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

def QuarkAttachConfig : Pass<"quark-attach-config", "::mlir::ModuleOp"> {
  let summary = "Sets the module's Quark configuration from a scheme or a file";
  let description = [{
    Builds Quark's QConfig the way `quantize_quark.py` does and stores it as
    the module attribute `quark.quantization_config`: from `config-file` (a
    JSON `quantization_config`, or a whole config.json that has one), or from
    `quant-scheme` and the model type's template (`quark.model_type`: KV and
    q projections, default exclusions such as lm_head and MoE routers) with
    the other options of the driver.
  }];
  let options = [
    Option<"quantScheme", "quant-scheme", "std::string", /*default=*/"",
           "a --quant_scheme name (fp8, int4_wo_128, mxfp4, ...)">,
    Option<"configFile", "config-file", "std::string", /*default=*/"",
           "Quark JSON configuration instead of a scheme">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"0",
           "override the group size of integer per-group specs (0: keep)">,
    ListOption<"layerQuantScheme", "layer-quant-scheme", "std::string",
               "PATTERN=SCHEME overrides, in order">,
    ListOption<"excludeLayers", "exclude-layers", "std::string",
               "exclusion patterns replacing the template's">,
    Option<"overrideExclusions", "override-exclusions", "bool",
           /*default=*/"false",
           "use exclude-layers (possibly empty) instead of the template's">,
    Option<"kvCacheDtype", "kv-cache-dtype", "std::string", /*default=*/"",
           "fp8: quantize the K and V projection outputs">,
    Option<"minKvScale", "min-kv-scale", "double", /*default=*/"0.0",
           "lower bound of the KV-cache scale">,
    Option<"attentionDtype", "attention-dtype", "std::string",
           /*default=*/"", "fp8: quantize q and the softmax output">,
    Option<"moeExpertsSecondStep", "moe-experts-second-step-config",
           "std::string", /*default=*/"",
           "second weight stage for MoE expert layers (a scheme name)">,
  ];
  let dependentDialects = ["::mlir::quark::QuarkDialect"];
}

def QuarkApplyConfig : Pass<"quark-apply-config", "::mlir::ModuleOp"> {
  let summary = "Resolves the module's Quark configuration for every layer";
  let description = [{
    Reads the module's `quark.quantization_config` (Quark's QConfig: global,
    layer-name and layer-type specs, KV-cache and softmax specs,
    exclusions) and sets each `quark.linear`'s `quant` attribute to the
    QLayerConfig Quark resolves for its name: an excluded layer gets none;
    otherwise an exact name, then the first matching fnmatch pattern in
    order, then the layer type, then the global config; a KV projection
    takes its KV-cache entry. A softmax spec goes to every
    `quark.attention`.

    ```mlir
    %y = quark.linear %x, %w {name = "model.layers.0.mlp.up_proj"} : ...
    // becomes
    %y = quark.linear %x, %w {name = "model.layers.0.mlp.up_proj",
                              quant = #quark.layer_spec<weight = #int4_g128>} : ...
    ```
  }];
  let dependentDialects = ["::mlir::quark::QuarkDialect"];
  let statistics = [
    Statistic<"numQuantized", "quantized-layers", "layers given a spec">,
    Statistic<"numFloat", "float-layers", "layers left in float">,
  ];
}

def QuarkInsertObservers : Pass<"quark-insert-observers", "::mlir::ModuleOp"> {
  let summary = "Inserts quark.observe where calibration must collect statistics";
  let description = [{
    For each `quark.linear` with a `quant` spec, a static input spec gets a
    `quark.observe` on the layer's input (`<layer>.input`) and a static
    output spec one on its result (`<layer>.output`, the KV cache of K and
    V projections). Weights need no observer (their statistics are the
    weights themselves); dynamic specs, MX and block formats derive their
    parameters from the data at run time.
  }];
  let dependentDialects = ["::mlir::quark::QuarkDialect"];
  let statistics = [
    Statistic<"numObservers", "observers", "quark.observe ops inserted">,
  ];
}

def QuarkCalibrate : Pass<"quark-calibrate", "::mlir::ModuleOp"> {
  let summary = "Runs calibration text through the model and fills the observers";
  let description = [{
    Tokenizes the calibration text with the model's tokenizer (the whole
    text once, BOS at the start of the stream), runs the first
    `num-calib-data` windows of `seq-len` tokens through `@forward` on the
    CPU executor, and records in every `quark.observe` the statistics its
    observer keeps: the running minimum and maximum of each parameter slot
    (`min_values`, `max_values`), and for histogram, percentile and MSE
    observers Quark's running histogram (`histogram`, `histogram_edges`).
    Attention with a softmax spec records the probabilities' maximum.

    The model runs decoder layer by decoder layer: every window passes
    through one layer before the next layer's weights are read, and a
    layer's weights are dropped (their pages handed back to the kernel)
    when it is done, so memory holds one layer's weights and the windows'
    activations, not the model. Weights come from the module's
    `quark.model_dir`.
  }];
  let options = [
    Option<"dataset", "dataset", "std::string", /*default=*/"",
           "calibration text: a UTF-8 .txt file, a .jsonl file of "
           "{\"text\": ...} records, or a folder of them">,
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"512",
           "tokens per calibration window">,
    Option<"numCalibData", "num-calib-data", "int64_t", /*default=*/"512",
           "calibration windows (fewer when the text is shorter)">,
    Option<"batchSize", "batch-size", "int64_t", /*default=*/"1",
           "windows per forward pass">,
    Option<"tokenizerDir", "tokenizer", "std::string", /*default=*/"",
           "tokenizer folder (default: the model folder)">,
  ];
  let statistics = [
    Statistic<"numWindows", "windows", "calibration windows run">,
  ];
}

def QuarkFreeze : Pass<"quark-freeze", "::mlir::ModuleOp"> {
  let summary = "Turns observed statistics and weights into fixed quantization";
  let description = [{
    Replaces every `quark.observe` that calibration filled by a
    `quark.fake_quant` with the scale (and zero point) Quark computes from
    its statistics, and quantizes what the `quant` specs ask for:
    weights get a `quark.fake_quant` with parameters from their own values
    (read from the checkpoint, one tensor at a time), dynamic inputs and
    outputs a `quark.fake_quant` that derives its parameters per call. The
    result runs on the executor as the quantized model.

    Scales of `scale_type = float` are rounded to the model's dtype
    (`quark.model_dtype`), as Quark computes them in the model's precision.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::quark::QuarkDialect"];
  let statistics = [
    Statistic<"numWeights", "weights", "weights quantized">,
    Statistic<"numActivations", "activations", "activation quantizers placed">,
  ];
}

def QuarkShareWeightScales : Pass<"quark-share-weight-scales",
                                  "::mlir::ModuleOp"> {
  let summary = "One per-tensor weight scale across layers a server fuses";
  let description = [{
    Quark's `shared_scale_groups`: within each parent module, the linears
    whose last name component is in one group (by default `q_proj, k_proj,
    v_proj` and `gate_proj, up_proj`, the projections vLLM fuses into one
    GEMM) and whose weights share one spec get one per-tensor scale, from
    the extremes of all their weights together. A serving engine loads
    each fused weight with a single per-tensor scale: given different ones
    it keeps the largest and warns, and for NVFP4 the fp8 block scales of
    the other shards are then read against the wrong global scale.

    Runs on the frozen model (`quark-freeze`), before
    `quark-quantize-weights`, so the fake-quantized and the stored model
    agree. It rewrites:
    * an NVFP4-style weight quantizer (`quark.two_stage_fake_quant` whose
      second stage quantizes the block scales) to take the group's
      `second_scale` (`amax / (element max * fp8 max)` over the group);
    * a per-tensor static weight quantizer (`quark.fake_quant` fed by
      `quark.compute_qparams`) to take the group's scale and zero point as
      constants.
    Other weight quantizers (per-channel, per-group, MX, progressive) have
    no per-tensor scale to share and are left as they are; a group member
    whose spec differs from the others keeps its own scale, with a warning.

    ```mlir
    %w = quark.param "model.layers.0.self_attn.k_proj.weight" : tensor<64x128xbf16>
    %s = arith.constant dense<7.6e-05> : tensor<f32>   // q/k/v's shared scale
    %q = quark.two_stage_fake_quant %w second_scale(%s : tensor<f32>) {spec = ...}
    ```
  }];
  let options = [
    Option<"groups", "groups", "std::string",
           /*default=*/"\"q_proj,k_proj,v_proj;gate_proj,up_proj\"",
           "groups of layer names (last name component), ';' between "
           "groups, ',' between names">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::quark::QuarkDialect"];
  let statistics = [
    Statistic<"numGroups", "groups", "groups given one scale">,
    Statistic<"numWeights", "weights", "weights given their group's scale">,
  ];
}

def QuarkQuantizeWeights : Pass<"quark-quantize-weights", "::mlir::ModuleOp"> {
  let summary = "Stores quantized weights as codes and scales in a safetensors file";
  let description = [{
    Real quantization of the weights `quark-freeze` fake-quantized: each
    weight is streamed from the checkpoint in row chunks, quantized with
    Quark's numerics on all threads and written to `output-file` as its
    codes and its scales (`<name>_scale`, float32), zero points
    (`<name>_zero_point`) and, for NVFP4-style specs, the block scales as
    fp8 e4m3 codes (`<name>_scale`, read back through `quark.storage_cast`
    and a `quark.dequantize` of their own) with their per-tensor scale
    (`<name>_scale_2`). Codes are stored as Quark packs
    them: int4/uint4 eight to an int32 word in Quark's `reorder` order, fp4
    two to a byte, fp6 four to three bytes (read back through
    `quark.unpack`); 8-bit codes one per byte, fp8 as its bits. The IR then
    reads them:

    ```mlir
    %c = quark.param "model.layers.0.mlp.up_proj.weight" from "/out/quantized-weights.safetensors"
           : tensor<768x32xi32>
    %q = quark.unpack %c pack_method = reorder
           : tensor<768x32xi32> -> tensor<768x256x!quant.any<i4:f32>>
    %s = quark.param "model.layers.0.mlp.up_proj.weight_scale" from "..." : tensor<768x2xf32>
    %w = quark.dequantize %q scale(%s : tensor<768x2xf32>) {spec = #int4_g128}
           : tensor<768x256x!quant.any<i4:f32>> -> tensor<768x256xbf16>
    ```

    The codes' `quark.param` records the float weight they were quantized
    from as `quark.quantized_from = {name, file}` (no file: the model
    checkpoint), for exporters that quantize it again at another scale.

    Memory stays bounded by a batch of rows: the checkpoint's pages are
    handed back as each tensor is done, so checkpoints larger than RAM
    quantize. Block formats (mx6, mx9, bfp16) have no stored form and stay
    fake-quantized; progressive specs (int4_fp8) store their second stage's
    codes with both stages' scales.
  }];
  let options = [
    Option<"outputFile", "output-file", "std::string", /*default=*/"",
           "the safetensors file to write (replaced atomically)">,
  ];
  let dependentDialects = ["::mlir::quark::QuarkDialect",
                           "::mlir::quant::QuantDialect"];
  let statistics = [
    Statistic<"numStored", "stored", "weights stored as codes">,
    Statistic<"numSimulated", "simulated", "weights left fake-quantized">,
  ];
}

def QuarkTestScalingGroups : Pass<"quark-test-scaling-groups",
                                  "::mlir::ModuleOp"> {
  let summary = "Prints the scaling-group analysis of every decoder layer";
  let description = [{
    For each `quark.block`, one line per group a per-channel scale can
    migrate across (SmoothQuant, AWQ): the producer that absorbs 1/s, the
    linears whose weight columns take s, and the channel count.

    ```
    model.layers.0: model.layers.0.input_layernorm -> q_proj, k_proj, v_proj [256]
    ```
  }];
}

def QuarkSmoothQuant : Pass<"quark-smoothquant", "::mlir::ModuleOp"> {
  let summary = "SmoothQuant: migrates activation outliers into the weights";
  let description = [{
    Layer by layer, runs the calibration windows through each decoder layer,
    records every scaling group's per-channel activation maximum, and with
    the group's weight maximum sets s = max|X|^alpha / max|W|^(1-alpha):
    the producer (a norm, or v_proj / up_proj) is divided by s and the
    consumers' weight columns multiplied by it. The float model computes
    the same function; its activations have smaller outliers.

    The scaled weights are written per layer to `checkpoint-dir` (float32
    safetensors) and the params are redirected there (`quark.param ...
    from`); only groups with a quantized consumer are smoothed.
  }];
  let options = [
    Option<"alpha", "alpha", "double", /*default=*/"0.5",
           "migration strength (Quark's SmoothQuantConfig.alpha)">,
    Option<"scaleClampMin", "scale-clamp-min", "double", /*default=*/"1e-3",
           "lower bound of the scales (Quark's scale_clamp_min)">,
    Option<"dataset", "dataset", "std::string", /*default=*/"",
           "calibration text (as quark-calibrate's)">,
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"512",
           "tokens per calibration window">,
    Option<"numCalibData", "num-calib-data", "int64_t", /*default=*/"128",
           "calibration windows (fewer when the text is shorter)">,
    Option<"batchSize", "batch-size", "int64_t", /*default=*/"1",
           "windows per forward pass">,
    Option<"tokenizerDir", "tokenizer", "std::string", /*default=*/"",
           "tokenizer folder (default: the model folder)">,
    Option<"checkpointDir", "checkpoint-dir", "std::string", /*default=*/"",
           "folder for the per-layer results (required)">,
    Option<"resume", "resume", "bool", /*default=*/"false",
           "continue a run interrupted in checkpoint-dir">,
    Option<"overwrite", "overwrite", "bool", /*default=*/"false",
           "start over where checkpoint-dir holds an earlier run">,
  ];
  let statistics = [
    Statistic<"numGroups", "groups", "scaling groups smoothed">,
  ];
}

def QuarkAutoSmoothQuant : Pass<"quark-autosmoothquant", "::mlir::ModuleOp"> {
  let summary = "SmoothQuant with a per-layer, per-group searched alpha";
  let description = [{
    As quark-smoothquant, but each scaling group of each decoder layer gets
    its own alpha: for alpha = k/alpha-grid (k = 0..alpha-grid), the
    group's linears compute Q(x / s) Q(W * s)^T with their own input and
    weight quantizers (static input scales from the min/max over every
    calibration token, dynamic ones per sample) on up to max-tokens evenly
    spaced calibration tokens; the alpha with the least error against the
    float outputs (compute-scale-loss: MSE or MAE) is folded in. The
    chosen alphas are reported as remarks.
  }];
  let options = [
    Option<"computeScaleLoss", "compute-scale-loss", "std::string",
           /*default=*/"\"MSE\"", "MSE or MAE of the quantized outputs">,
    Option<"alphaGrid", "alpha-grid", "int64_t", /*default=*/"20",
           "alphas k/alpha-grid tried for k = 0..alpha-grid">,
    Option<"maxTokens", "max-tokens", "int64_t", /*default=*/"4096",
           "calibration tokens each search scores (evenly spaced)">,
    Option<"scaleClampMin", "scale-clamp-min", "double", /*default=*/"1e-3",
           "lower bound of the scales (Quark's scale_clamp_min)">,
    Option<"dataset", "dataset", "std::string", /*default=*/"",
           "calibration text (as quark-calibrate's)">,
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"512",
           "tokens per calibration window">,
    Option<"numCalibData", "num-calib-data", "int64_t", /*default=*/"128",
           "calibration windows (fewer when the text is shorter)">,
    Option<"batchSize", "batch-size", "int64_t", /*default=*/"1",
           "windows per forward pass">,
    Option<"tokenizerDir", "tokenizer", "std::string", /*default=*/"",
           "tokenizer folder (default: the model folder)">,
    Option<"checkpointDir", "checkpoint-dir", "std::string", /*default=*/"",
           "folder for the per-layer results (required)">,
    Option<"resume", "resume", "bool", /*default=*/"false",
           "continue a run interrupted in checkpoint-dir">,
    Option<"overwrite", "overwrite", "bool", /*default=*/"false",
           "start over where checkpoint-dir holds an earlier run">,
  ];
  let dependentDialects = ["::mlir::quark::QuarkDialect"];
  let statistics = [
    Statistic<"numGroups", "groups", "scaling groups smoothed">,
  ];
}

def QuarkAwq : Pass<"quark-awq", "::mlir::ModuleOp"> {
  let summary = "AWQ: activation-aware per-channel weight scales and clipping";
  let description = [{
    Decoder layer by decoder layer: one run of the layer records, for the
    input of every quantized linear, the mean |x| per channel and the
    second moment (2/T) sum x x^T. For each scaling group (see
    quark-test-scaling-groups) with a quantized linear, the ratio k/grid
    (k = 0..grid-1) whose scales s = mean|x|^ratio (normalised) give the
    least output error of the group's linears with weights Q(W*s)/s is
    kept; the weights are multiplied by s and the producer (norm or
    linear) divided by s, so the float model is unchanged. Then, with
    `clip`, every quantized linear except q/k projections gets llm-awq's
    clip search: each weight group is clamped to the shrink of max|w|
    (up to max-shrink) with the least output error. Layer i+1 sees the
    outputs of the rewritten layer i. The weights stay float; the usual
    observers and quark-quantize-weights quantize them afterwards.
  }];
  let options = [
    Option<"grid", "grid", "int64_t", /*default=*/"20",
           "ratios k/grid tried for k = 0..grid-1">,
    Option<"clip", "clip", "bool", /*default=*/"true",
           "search a clip range per weight group after scaling">,
    Option<"maxShrink", "max-shrink", "double", /*default=*/"0.5",
           "largest fraction of max|w| the clip search removes">,
    Option<"dataset", "dataset", "std::string", /*default=*/"",
           "calibration text (as quark-calibrate's)">,
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"512",
           "tokens per calibration window">,
    Option<"numCalibData", "num-calib-data", "int64_t", /*default=*/"128",
           "calibration windows (fewer when the text is shorter)">,
    Option<"batchSize", "batch-size", "int64_t", /*default=*/"1",
           "windows per forward pass">,
    Option<"tokenizerDir", "tokenizer", "std::string", /*default=*/"",
           "tokenizer folder (default: the model folder)">,
    Option<"checkpointDir", "checkpoint-dir", "std::string", /*default=*/"",
           "folder for the per-layer results (required)">,
    Option<"resume", "resume", "bool", /*default=*/"false",
           "continue a run interrupted in checkpoint-dir">,
    Option<"overwrite", "overwrite", "bool", /*default=*/"false",
           "start over where checkpoint-dir holds an earlier run">,
  ];
  let dependentDialects = ["::mlir::quark::QuarkDialect"];
  let statistics = [
    Statistic<"numGroups", "groups", "scaling groups searched">,
    Statistic<"numClipped", "clipped", "weights clip-searched">,
  ];
}

def QuarkRotate : Pass<"quark-rotate", "::mlir::ModuleOp"> {
  let summary = "QuaRot R1: rotate the residual stream by a Hadamard matrix";
  let description = [{
    Folds every RMSNorm weight on the residual stream into the linears that
    read the norm (and sets it to 1), then rotates the hidden state by
    M = (H_K (x) H_{2^m})^T / sqrt(hidden): the embedding rows and the
    reading linears' weights become W M, the linears that add into the
    residual stream (o_proj, down_proj) M^T W. The float model computes the
    same function, with the activation outliers spread over all channels,
    so per-tensor activation scales and weight groups waste less range.
    Needs an RMSNorm decoder (Llama, Mistral, Qwen2, ...); a tied lm_head
    is untied (its own `lm_head.weight`, and exports say
    tie_word_embeddings = false); LayerNorm models, mixtures of experts and
    norms feeding other ops are refused with the op named. The rewritten params of each decoder
    layer (and of the embedding, final norm and lm_head, "model") are
    written to <checkpoint-dir>/rotation/<unit>.safetensors in the model's
    precision and read from there. With `r4`, the input of each MLP's
    down projection is also rotated online by a quark.hadamard of its size
    (its weight multiplied by the same matrix): the activation outliers
    that SmoothQuant and R1 cannot reach are spread too.
  }];
  let options = [
    Option<"r4", "r4", "bool", /*default=*/"false",
           "also rotate down_proj's input online (quark.hadamard), QuaRot's "
           "R4; not expressible in hf_format or GGUF checkpoints">,
    Option<"checkpointDir", "checkpoint-dir", "std::string", /*default=*/"",
           "folder for the rotated weights (required)">,
  ];
  let dependentDialects = ["::mlir::quark::QuarkDialect"];
  let statistics = [
    Statistic<"numUnits", "units", "weight files written">,
    Statistic<"numOnline", "online", "online rotations inserted (r4)">,
    Statistic<"numUntied", "untied", "tied lm_heads given their own weight">,
  ];
}

def QuarkGptq : Pass<"quark-gptq", "::mlir::ModuleOp"> {
  let summary = "GPTQ: quantizes weights with second-order error feedback";
  let description = [{
    Decoder layer by decoder layer, and inside a layer one input at a time
    (q/k/v together, then o_proj, gate/up, down_proj), accumulates the
    Hessian of the linears' inputs over the calibration windows and
    quantizes their weights column by column with GPTQ, each by its
    layer's weight spec. Layer i+1 sees the outputs of the quantized layer
    i. A quantized weight becomes

    ```mlir
    %w = quark.param "<layer>.weight" from "<checkpoint-dir>/gptq/<block>.safetensors"
    %s = quark.param "<layer>.weight_scale" from "..."
    %q = quark.fake_quant %w scale(%s : ...) {spec = ...}
    ```

    so freezing keeps GPTQ's parameters and quantize-weights stores them.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "columns per lazy-batch block">,
    Option<"dampPercent", "damp-percent", "double", /*default=*/"0.01",
           "diagonal damping relative to mean(diag(H))">,
    Option<"descAct", "desc-act", "bool", /*default=*/"true",
           "quantize columns in decreasing Hessian-diagonal order">,
    Option<"staticGroups", "static-groups", "bool", /*default=*/"true",
           "group parameters from the unpermuted weight">,
    Option<"dataset", "dataset", "std::string", /*default=*/"",
           "calibration text (as quark-calibrate's)">,
    Option<"seqLen", "seq-len", "int64_t", /*default=*/"512",
           "tokens per calibration window">,
    Option<"numCalibData", "num-calib-data", "int64_t", /*default=*/"128",
           "calibration windows (fewer when the text is shorter)">,
    Option<"batchSize", "batch-size", "int64_t", /*default=*/"1",
           "windows per forward pass">,
    Option<"tokenizerDir", "tokenizer", "std::string", /*default=*/"",
           "tokenizer folder (default: the model folder)">,
    Option<"checkpointDir", "checkpoint-dir", "std::string", /*default=*/"",
           "folder for the per-layer results (required)">,
    Option<"resume", "resume", "bool", /*default=*/"false",
           "continue a run interrupted in checkpoint-dir">,
    Option<"overwrite", "overwrite", "bool", /*default=*/"false",
           "start over where checkpoint-dir holds an earlier run">,
  ];
  let dependentDialects = ["::mlir::quark::QuarkDialect"];
  let statistics = [
    Statistic<"numLinears", "linears", "weights quantized by GPTQ">,
  ];
}

#endif // QUARK_TRANSFORMS_PASSES_TD
