#!/usr/bin/env python3
"""Compile-time facts of the AMD GPU kernels, for machines without a GPU.

Builds the benchmark-sized quantized kernels with quark-run-kernel
--emit-quark (W8A8 fp8 and int8 GEMMs at M = N = K = 4096, static and with
per-token scales computed in the kernel, and for one token, W4A16 int4 g128 at N = K = 4096
with 1, 16 and 256 tokens, MXFP4 with 16 tokens, NVFP4 W4A4 with 1 and 256),
compiles them with quark-lower-to-rocdl-pipeline{format=isa} for each chip and
reads, per kernel, what the code object's metadata and assembly say: VGPRs,
AGPRs, SGPRs, LDS bytes, scratch bytes and spills, the MFMA instructions
used, the launch grid and block (kernels.json), and an occupancy estimate
(waves per SIMD) from the chip's register file and LDS sizes.

    /usr/bin/python3 bench/gpu_isa_facts.py [--chips gfx942,gfx950]

Writes bench/results/gpu-isa-facts.json. No timing: that needs the GPU.
"""

import argparse
import collections
import datetime
import json
import math
import os
import re
import subprocess
import tempfile

from benchlib import ROOT, write_result

# Per-chip resources for the occupancy estimate (CDNA3: unified VGPR/AGPR
# file of 512 registers per lane and SIMD, 8 waves per SIMD, 4 SIMDs per CU,
# 800 SGPRs per SIMD; LDS per CU: 64 KiB on gfx942 / gfx90a, 160 KiB on
# gfx950).
CHIPS = {
    "gfx942": {"vgprs": 512, "lds": 64 * 1024},
    "gfx950": {"vgprs": 512, "lds": 160 * 1024},
    "gfx90a": {"vgprs": 512, "lds": 64 * 1024},
}
MAX_WAVES_PER_SIMD = 8
SIMDS_PER_CU = 4
SGPRS_PER_SIMD = 800

CASES = [
    ("w8a8-fp8 4096x4096x4096", ["--kernel", "w8a8-fp8", "--m", "4096", "--n", "4096", "--k", "4096"]),
    ("w8a8-int8 4096x4096x4096", ["--kernel", "w8a8-int8", "--m", "4096", "--n", "4096", "--k", "4096"]),
    # Decoding one token: int8 goes to split-K, fp8 stays on the matrix cores.
    ("w8a8-int8 1x4096x4096", ["--kernel", "w8a8-int8", "--m", "1", "--n", "4096", "--k", "4096"]),
    ("w8a8-fp8 per-token 1x4096x4096", ["--kernel", "w8a8-fp8", "--dynamic-activations",
                                         "--m", "1", "--n", "4096", "--k", "4096"]),
    ("w4a16 int4 g128 1x4096x4096", ["--kernel", "w4a16", "--dtype", "int4", "--group", "128",
                                      "--m", "1", "--n", "4096", "--k", "4096"]),
    ("w4a16 int4 g128 16x4096x4096", ["--kernel", "w4a16", "--dtype", "int4", "--group", "128",
                                       "--m", "16", "--n", "4096", "--k", "4096"]),
    ("mxfp4 16x4096x4096", ["--kernel", "mxfp4", "--m", "16", "--n", "4096", "--k", "4096"]),
    # Prefill: more rows than split-K takes, so quark-tiled-gemm.
    ("w4a16 int4 g128 256x4096x4096", ["--kernel", "w4a16", "--dtype", "int4", "--group", "128",
                                        "--m", "256", "--n", "4096", "--k", "4096"]),
    # Per-token fp8 activation scales computed in the kernel (ptpc_fp8).
    ("w8a8-fp8 per-token 4096x4096x4096", ["--kernel", "w8a8-fp8", "--dynamic-activations",
                                            "--m", "4096", "--n", "4096", "--k", "4096"]),
    # NVFP4 W4A4: block scales per call, decode GEMV and prefill.
    ("nvfp4 1x4096x4096", ["--kernel", "nvfp4", "--group", "16", "--second-scale", "0.002",
                           "--m", "1", "--n", "4096", "--k", "4096"]),
    ("nvfp4 256x4096x4096", ["--kernel", "nvfp4", "--group", "16", "--second-scale", "0.002",
                             "--m", "256", "--n", "4096", "--k", "4096"]),
]

METADATA_KEYS = {
    "vgpr_count": "vgprs",
    "agpr_count": "agprs",
    "sgpr_count": "sgprs",
    "group_segment_fixed_size": "lds_bytes",
    "private_segment_fixed_size": "scratch_bytes",
    "vgpr_spill_count": "vgpr_spills",
    "sgpr_spill_count": "sgpr_spills",
}


def kernel_facts(assembly):
    facts = {}
    for key, name in METADATA_KEYS.items():
        match = re.search(r"^[\s-]*\." + key + r":\s+(\d+)", assembly, re.M)
        facts[name] = int(match.group(1)) if match else None
    code = assembly.split(".amdgpu_metadata")[0]
    facts["mfma"] = dict(collections.Counter(re.findall(r"\bv_mfma_\w+", code)))
    for name, pattern in [("lds_reads", r"\bds_read\w*"), ("lds_writes", r"\bds_write\w*"),
                          ("global_loads", r"\bglobal_load\w*"), ("fp8_conversions", r"\bv_cvt_pk_[bf]\w*8_f32")]:
        facts[name] = len(re.findall(pattern, code))
    return facts


def occupancy(facts, block, chip):
    """Waves per SIMD the register file, SGPRs and LDS allow, and which of
    them limits."""
    resources = CHIPS[chip]
    registers = 4 * math.ceil(facts["vgprs"] / 4) + (facts["agprs"] or 0)
    registers = max(8, 8 * math.ceil(registers / 8))
    limits = {"vgprs": resources["vgprs"] // registers,
              "sgprs": SGPRS_PER_SIMD // max(16, 16 * math.ceil(facts["sgprs"] / 16)),
              "waves": MAX_WAVES_PER_SIMD}
    waves_per_group = math.ceil(block[0] * block[1] * block[2] / 64)
    if facts["lds_bytes"]:
        groups_per_cu = resources["lds"] // facts["lds_bytes"]
        limits["lds"] = groups_per_cu * waves_per_group // SIMDS_PER_CU
    limiter = min(limits, key=limits.get)
    return min(limits.values()), limiter


def compile_case(build, chip, args, work):
    source = os.path.join(work, "kernel.mlir")
    with open(source, "w") as f:
        subprocess.run([os.path.join(build, "bin", "quark-run-kernel"), *args, "--emit-quark"],
                       stdout=f, check=True)
    out = os.path.join(work, chip)
    subprocess.run([os.path.join(build, "bin", "quark-opt"), source,
                    f"--quark-lower-to-rocdl-pipeline=chip={chip} format=isa dir={out}",
                    "-o", os.devnull], check=True)
    with open(os.path.join(out, "kernels.json")) as f:
        manifest = json.load(f)
    kernels = []
    for launch in manifest["functions"][0]["launches"]:
        with open(os.path.join(out, manifest["binaries"][launch["module"]])) as f:
            facts = kernel_facts(f.read())
        facts["module"] = launch["module"]
        facts["grid"] = launch["grid"]
        facts["block"] = launch["block"]
        facts["waves_per_simd"], facts["occupancy_limiter"] = occupancy(facts, launch["block"], chip)
        kernels.append(facts)
    return kernels


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.environ.get("QUARK_BUILD_DIR", os.path.join(ROOT, "build")))
    parser.add_argument("--chips", default="gfx942,gfx950")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "gpu-isa-facts.json"))
    options = parser.parse_args()
    chips = options.chips.split(",")
    for chip in chips:
        if chip not in CHIPS:
            parser.error(f"unknown chip {chip}: one of {', '.join(CHIPS)}")
    result = {"date": datetime.date.today().isoformat(),
              "device": "none: compile-time facts of the code objects, no GPU ran them",
              "compiler": "quark-lower-to-rocdl-pipeline (LLVM/MLIR 22, Debian)",
              "occupancy_model": {"waves_per_simd_max": MAX_WAVES_PER_SIMD, "simds_per_cu": SIMDS_PER_CU,
                                  "sgprs_per_simd": SGPRS_PER_SIMD, "chips": CHIPS},
              "chips": {}}
    with tempfile.TemporaryDirectory() as work:
        for chip in chips:
            result["chips"][chip] = {}
            for name, args in CASES:
                kernels = compile_case(options.build, chip, args, work)
                result["chips"][chip][name] = kernels
                for k in kernels:
                    mfma = ", ".join(f"{n} x{c}" for n, c in k["mfma"].items()) or "-"
                    print(f"{chip} {name:32} {k['module']:16} grid {k['grid']} block {k['block']} "
                          f"vgpr {k['vgprs']} agpr {k['agprs']} lds {k['lds_bytes']} "
                          f"scratch {k['scratch_bytes']} waves/SIMD {k['waves_per_simd']} "
                          f"({k['occupancy_limiter']}) mfma: {mfma}", flush=True)
    write_result(options.out, result)


if __name__ == "__main__":
    main()
