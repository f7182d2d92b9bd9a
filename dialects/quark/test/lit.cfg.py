# Tests of the quark dialect alone, run with quark-dialect-opt (which
# registers no framework passes).
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "QUARK-DIALECT"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.quark_dialect_obj_root
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(
    ["quark-dialect-opt"], [config.quark_dialect_tools_dir])
