# lit tests of the quark framework: one file per pass (named after its flag),
# translations, tools and end-to-end runs.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "QUARK"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".json", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.quark_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "unit", "fuzz",
                   "reference", "Inputs"]

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(
    ["quark-opt", "quark-translate", "quark-run", "quark-inspect",
     "quark-quantize", "quark-run-kernel", "quark-export-onnx"], [config.quark_tools_dir])
config.substitutions.append(("%quark_src", config.quark_src_root))
config.substitutions.append(("%quark_build", config.quark_obj_root))
config.substitutions.append(("%python", config.python_executable))

# Tests that compare with PyTorch need Debian's python3-torch; the random
# model generator needs numpy.
import subprocess
for module in ("numpy", "sentencepiece"):
    if subprocess.call([config.python_executable, "-c", "import " + module],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
        config.available_features.add(module)
if subprocess.call([config.python_executable, "-c", "import torch, numpy"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("torch")

# llama.cpp as a reference GGUF consumer: npm node-llama-cpp with its
# prebuilt CPU binary, which the set-up installs into third_party/.
import shutil
third_party = os.path.join(config.quark_src_root, "third_party", "node_modules")
if shutil.which("node") and os.path.isdir(
        os.path.join(third_party, "node-llama-cpp")) and os.path.isdir(
        os.path.join(third_party, "@node-llama-cpp", "linux-x64")):
    config.available_features.add("llama-cpp")
if shutil.which("node") and os.path.isdir(
        os.path.join(third_party, "onnxruntime-node")):
    config.available_features.add("onnxruntime")
config.environment["QUARK_THIRD_PARTY"] = os.path.join(
    config.quark_src_root, "third_party")

# Slow tests run only when QUARK_SLOW_TESTS=1 (CI sets it when time allows).
if os.environ.get("QUARK_SLOW_TESTS") == "1":
    config.available_features.add("slow")
