"""Moves every float32 scalar constant of a quantized model's IR (the
calibrated activation, output and KV-cache scales) by a number of float32
ulps, to measure how far the executor's own logits move under rounding
noise of that size.

  perturb_scales.py IN.mlir OUT.mlir ULPS

Activation quantizers make a model's logits discontinuous in its inputs: a
value within rounding noise of a code boundary flips to the neighbouring
code, and the flip travels on. Two correct implementations that differ
only in float32 summation order therefore disagree by about as much as
the executor disagrees with itself after a one-ulp change of its scales;
compare_logits.py --within-noise takes such runs as the tolerance."""
import re
import sys

import numpy as np

CONSTANT = re.compile(
    r"arith\.constant dense<([-+0-9.eE]+)> : tensor<f32>")


def moved(value, ulps):
    v = np.float32(value)
    direction = np.float32(np.inf if ulps > 0 else -np.inf)
    for _ in range(abs(ulps)):
        v = np.nextafter(v, direction, dtype=np.float32)
    return v


def main():
    source, output, ulps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    text = open(source).read()
    count = 0

    def replace(match):
        nonlocal count
        count += 1
        # repr of the float64 holding the float32 parses back to it exactly.
        value = repr(float(moved(float(match.group(1)), ulps)))
        return f"arith.constant dense<{value}> : tensor<f32>"

    text = CONSTANT.sub(replace, text)
    if count == 0:
        sys.exit(f"{source}: no float32 scalar constants (scales) to move")
    open(output, "w").write(text)


if __name__ == "__main__":
    main()
