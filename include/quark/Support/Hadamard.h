//===- Hadamard.h - Hadamard rotations of any QuaRot size -------*- C++ -*-===//
//
// QuaRot (Ashkboos et al.) rotates a model's hidden states by an
// orthogonal Hadamard matrix: for n = K * 2^m,
//   M = (H_K (x) H_{2^m})^T / sqrt(n),
// H_{2^m} the Sylvester (natural-order) matrix and H_K a Hadamard matrix of
// order K (quark-semantics.md 4.5). K is the first of 172, 156, 140, 108,
// 60, 52, 36, 28, 40, 20, 12 that divides n with a power-of-two quotient,
// else 1.
//
// QuaRot ships its H_K as tables; here they are built by Paley's
// constructions over GF(q) (q prime or a prime power up to cubes): type I
// (order q + 1, q = 3 mod 4) for 12, 20, 28, 60, 108, 140; type II (order
// 2(q + 1), q = 1 mod 4) for 36 and 52; 40 is 20 doubled. So M is
// QuaRot's exactly for power-of-two n and an equally valid orthogonal
// Hadamard rotation (not the same matrix) otherwise.
//
// Orders 156 and 172 (Llama-2's intermediate 11008 = 172 * 64) have no such
// construction, and sizes such as 100 have no factor at all; for them
// H_K / sqrt(K) is replaced by the orthonormal DCT-II of order K (K the
// listed factor, or the odd part of n). M = (C_K (x) H_{n/K})^T /
// sqrt(n/K) is still orthogonal and mixes every channel with every other,
// though its entries are not all of equal magnitude as a Hadamard
// matrix's are.
//
// x M costs n log n + n K per row: a fast Walsh-Hadamard transform of each
// length-2^m block, then the K x K factor across the blocks, in double.
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_HADAMARD_H
#define QUARK_SUPPORT_HADAMARD_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace mlir::quark {

/// A Hadamard matrix of `order` (row-major, entries +-1, H H^T = order I):
/// Sylvester for powers of two, Paley for the orders listed above.
llvm::Expected<std::vector<int8_t>> hadamardMatrix(int64_t order);

/// x -> x M for vectors of size n.
class HadamardRotation {
public:
  static llvm::Expected<HadamardRotation> get(int64_t size);

  int64_t size() const { return n; }
  /// K, the non-power-of-two factor (1 for powers of two).
  int64_t factor() const { return k; }
  /// Whether M is a Hadamard matrix (else its K factor is a DCT).
  bool isHadamard() const { return hadamard; }

  /// Each of the `count` rows of `data` ([count, n] row-major) becomes
  /// row M: what a weight's input side (W M for W [rows, n]) and an
  /// activation need.
  void rotateRows(llvm::MutableArrayRef<float> data, int64_t count) const;
  /// data [n, cols] becomes M^T data: a weight's output side.
  void rotateColumns(llvm::MutableArrayRef<float> data, int64_t cols) const;
  /// The dense M (row-major n x n), for tests.
  std::vector<double> matrix() const;

private:
  HadamardRotation(int64_t n, int64_t k, std::vector<double> factorMatrix,
                   bool hadamard)
      : n(n), k(k), factorMatrix(std::move(factorMatrix)), hadamard(hadamard) {}
  void rotate(double *row, double *scratch) const;

  int64_t n, k;
  std::vector<double> factorMatrix; // H_K / sqrt(K), or the DCT-II
  bool hadamard;
};

} // namespace mlir::quark

#endif // QUARK_SUPPORT_HADAMARD_H
