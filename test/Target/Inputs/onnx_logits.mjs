// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node, CPU) on one
// token sequence and writes its logits as .npy (float32, [tokens, vocab]).
//
//   node onnx_logits.mjs MODEL.onnx IDS_FILE OUT.npy
//
// Graph optimizations are off: ORT would otherwise fuse DequantizeLinear
// into its own int4/int8 kernels and quantize activations, which is ORT's
// numerics, not the model's.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const thirdParty = process.env.QUARK_THIRD_PARTY ??
  path.resolve(here, "../../../third_party");
const require = createRequire(path.join(thirdParty, "package.json"));
const ort = require("onnxruntime-node");

const [modelPath, idsPath, output] = process.argv.slice(2);
const ids = fs.readFileSync(idsPath, "utf8").trim().split(",").map(BigInt);
const session = await ort.InferenceSession.create(modelPath, {
  graphOptimizationLevel: "disabled", intraOpNumThreads: 2,
  interOpNumThreads: 1,
});
const input = new ort.Tensor("int64", BigInt64Array.from(ids), [1, ids.length]);
const { logits } = await session.run({ input_ids: input });
const [, n, vocab] = logits.dims;
let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${n}, ${vocab}), }`;
header += " ".repeat(63 - ((header.length + 10) % 64)) + "\n";
const head = Buffer.alloc(10);
head.write("\x93NUMPY", 0, "latin1");
head[6] = 1; head[7] = 0; head.writeUInt16LE(header.length, 8);
fs.writeFileSync(output, Buffer.concat([head, Buffer.from(header, "latin1"),
  Buffer.from(logits.data.buffer, logits.data.byteOffset, logits.data.byteLength)]));
