// Runs a GGUF file in llama.cpp (npm node-llama-cpp's prebuilt CPU build)
// and writes the logits at every position of one token sequence as .npy
// (float32, [tokens, vocab]), or tokenizes a text.
//
//   node gguf_logits.mjs logits MODEL.gguf IDS_FILE OUT.npy
//   node gguf_logits.mjs tokenize MODEL.gguf TEXT_FILE     (ids on stdout)
//
// node-llama-cpp is looked up in third_party/node_modules (set-up installs
// it there; see scripts/fetch-reference-data.sh).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const thirdParty = process.env.QUARK_THIRD_PARTY ??
  path.resolve(here, "../../../third_party");
const require = createRequire(path.join(thirdParty, "package.json"));
const { getLlama, LlamaLogLevel } = await import(
  pathToFileURL(require.resolve("node-llama-cpp")).href);

const [mode, modelPath, input, output] = process.argv.slice(2);
const llama = await getLlama({
  gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 2,
});
const model = await llama.loadModel({ modelPath });

if (mode === "tokenize") {
  const text = fs.readFileSync(input, "utf8");
  console.log(model.tokenize(text).join(","));
} else if (mode === "logits") {
  const ids = fs.readFileSync(input, "utf8").trim().split(",").map(Number);
  const vocab = model.fileInsights.tensorInfo ? undefined : undefined;
  const context = await model.createContext({
    contextSize: Math.max(64, ids.length + 8), batchSize: ids.length,
    threads: 2, sequences: 1,
  });
  const sequence = context.getSequence();
  const request = ids.map((id) => [id, { generateNext: { logits: true } }]);
  const results = await sequence.controlledEvaluate(request);
  const size = model.vocabularyType ? model.fileInfo.metadata.llama.vocab_size
                                    : 0;
  const n = Number(size);
  const data = new Float32Array(ids.length * n);
  results.forEach((result, i) => {
    for (const [token, logit] of result.next.logits)
      data[i * n + token] = logit;
  });
  // .npy version 1.0: magic, header length, a padded dict header.
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${ids.length}, ${n}), }`;
  header += " ".repeat(63 - ((header.length + 10) % 64)) + "\n";
  const head = Buffer.alloc(10);
  head.write("\x93NUMPY", 0, "latin1");
  head[6] = 1; head[7] = 0; head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(output, Buffer.concat([head, Buffer.from(header, "latin1"),
    Buffer.from(data.buffer)]));
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
await llama.dispose();
