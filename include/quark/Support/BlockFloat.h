//===- BlockFloat.h - MX6, MX9 and BFP16 block simulation -------*- C++ -*-===//
//
// AMD's block formats, which Quark simulates but cannot export. Each is a
// fake-quantization of one block, bit-exact with Quark's kernels
// (hw_emulation_interface.py: fake_quantize_mx6_mx9, fake_quantize_bfp16):
//
//  * MX6 / MX9 ("multi-level ultra-fine scaling", arXiv 2302.08007): the block
//    shares the exponent E of its absolute maximum; each adjacent pair of
//    elements shares one extra "prime" bit that lowers its exponent to E-1
//    when both elements are at least a factor two below the maximum. Elements
//    then hold round_half_even(x / 2^(e - q + 2)) with q = 5 (MX6) or 8 (MX9)
//    significand bits, clamped to (2^(E+1) - step) / step.
//  * BFP16: 8-element blocks, shared exponent floor(log2 amax), 8-bit signed
//    mantissas with step 2^(E-6); if any element would round to +-128 (past
//    int8) the exponent is raised by one.
//
// NaN and Inf inputs: MX6/MX9 keep NaN and saturate Inf; BFP16 maps both to 0
// (Quark's kernel quantizes the nan_to_num'd block).
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_BLOCKFLOAT_H
#define QUARK_SUPPORT_BLOCKFLOAT_H

#include "llvm/ADT/ArrayRef.h"

namespace mlir::quark {

constexpr int kMX6QuantBits = 5;
constexpr int kMX9QuantBits = 8;
constexpr int kBFP16BlockSize = 8;

/// Fake-quantize one MX6 (quantBits = 5) or MX9 (quantBits = 8) block in
/// place. The block size must be even (elements pair up for the prime bit).
void mxTwoLevelFakeQuantizeBlock(llvm::MutableArrayRef<float> block,
                                 int quantBits);

/// Fake-quantize one BFP16 block (normally 8 elements) in place.
void bfp16FakeQuantizeBlock(llvm::MutableArrayRef<float> block);

} // namespace mlir::quark

#endif // QUARK_SUPPORT_BLOCKFLOAT_H
