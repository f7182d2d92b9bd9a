//===- Hadamard.cpp - Hadamard rotations of any QuaRot size ---------------===//

#include "quark/Support/Hadamard.h"

#include "quark/Support/Parallel.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>
#include <optional>

using namespace mlir::quark;

namespace {
llvm::Error hadamardError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "hadamard: " + message);
}

bool isPowerOfTwo(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

/// GF(p^e) for e <= 3: elements are 0..q-1, read as the base-p digits of a
/// polynomial in t reduced modulo a monic irreducible of degree e.
class FiniteField {
public:
  /// The field of `q` elements, if q is a prime or the square or cube of
  /// one.
  static std::optional<FiniteField> get(int64_t q) {
    for (int64_t p = 2; p <= q; ++p) {
      if (q % p != 0)
        continue;
      int64_t e = 0, rest = q;
      while (rest % p == 0) {
        rest /= p;
        ++e;
      }
      if (rest != 1 || e > 3)
        return std::nullopt;
      return FiniteField(p, e);
    }
    return std::nullopt;
  }

  int64_t size() const { return q; }

  int64_t subtract(int64_t a, int64_t b) const {
    int64_t result = 0, place = 1;
    for (int64_t i = 0; i < e; ++i, a /= p, b /= p, place *= p)
      result += (((a % p) - (b % p) + p) % p) * place;
    return result;
  }

  int64_t multiply(int64_t a, int64_t b) const {
    std::vector<int64_t> x = digits(a), y = digits(b);
    std::vector<int64_t> product(static_cast<size_t>(2 * e - 1), 0);
    for (int64_t i = 0; i < e; ++i)
      for (int64_t j = 0; j < e; ++j)
        product[i + j] = (product[i + j] + x[i] * y[j]) % p;
    // t^e = -(c_{e-1} t^{e-1} + ... + c_0).
    for (int64_t d = 2 * e - 2; d >= e; --d) {
      int64_t lead = product[d];
      product[d] = 0;
      for (int64_t i = 0; i < e; ++i)
        product[d - e + i] =
            ((product[d - e + i] - lead * modulus[i]) % p + p) % p;
    }
    int64_t result = 0;
    for (int64_t i = e - 1; i >= 0; --i)
      result = result * p + product[i];
    return result;
  }

  /// The quadratic character: 0 for 0, 1 for a nonzero square, else -1.
  std::vector<int8_t> quadraticCharacter() const {
    std::vector<int8_t> chi(static_cast<size_t>(q), -1);
    chi[0] = 0;
    for (int64_t x = 1; x < q; ++x)
      chi[multiply(x, x)] = 1;
    return chi;
  }

private:
  FiniteField(int64_t p, int64_t e) : p(p), e(e), q(1) {
    for (int64_t i = 0; i < e; ++i)
      q *= p;
    // The first monic polynomial of degree e without a root in GF(p): for
    // e <= 3 that makes it irreducible.
    modulus.assign(static_cast<size_t>(e), 0);
    if (e == 1)
      return;
    for (int64_t code = 0; code < q; ++code) {
      int64_t rest = code;
      for (int64_t i = 0; i < e; ++i, rest /= p)
        modulus[i] = rest % p;
      bool hasRoot = false;
      for (int64_t x = 0; x < p && !hasRoot; ++x) {
        int64_t value = 1; // x^e
        for (int64_t i = 0; i < e; ++i)
          value = value * x % p;
        int64_t power = 1;
        for (int64_t i = 0; i < e; ++i, power = power * x % p)
          value = (value + modulus[i] * power) % p;
        hasRoot = value == 0;
      }
      if (!hasRoot)
        return;
    }
  }

  std::vector<int64_t> digits(int64_t a) const {
    std::vector<int64_t> out(static_cast<size_t>(e));
    for (int64_t i = 0; i < e; ++i, a /= p)
      out[i] = a % p;
    return out;
  }

  int64_t p, e, q;
  std::vector<int64_t> modulus; // c_0..c_{e-1} of t^e + ... + c_0
};

/// Jacobsthal matrix Q[a][b] = chi(a - b) of GF(q).
std::vector<int8_t> jacobsthal(const FiniteField &field) {
  int64_t q = field.size();
  std::vector<int8_t> chi = field.quadraticCharacter();
  std::vector<int8_t> out(static_cast<size_t>(q * q));
  for (int64_t a = 0; a < q; ++a)
    for (int64_t b = 0; b < q; ++b)
      out[a * q + b] = chi[field.subtract(a, b)];
  return out;
}

/// Paley I: order q + 1 for q = 3 mod 4. H = I + [[0, 1^T], [-1, Q]].
std::vector<int8_t> paleyOne(const FiniteField &field) {
  int64_t q = field.size(), n = q + 1;
  std::vector<int8_t> jac = jacobsthal(field);
  std::vector<int8_t> h(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int8_t s = i == 0 ? (j == 0 ? 0 : 1)
                        : (j == 0 ? -1 : jac[(i - 1) * q + (j - 1)]);
      h[i * n + j] = static_cast<int8_t>(s + (i == j ? 1 : 0));
    }
  return h;
}

/// Paley II: order 2(q + 1) for q = 1 mod 4, from the symmetric conference
/// matrix C = [[0, 1^T], [1, Q]]: H = C (x) [[1, 1], [1, -1]] +
/// I (x) [[1, -1], [-1, -1]].
std::vector<int8_t> paleyTwo(const FiniteField &field) {
  int64_t q = field.size(), c = q + 1, n = 2 * c;
  std::vector<int8_t> jac = jacobsthal(field);
  std::vector<int8_t> h(static_cast<size_t>(n * n));
  const int8_t plus[2][2] = {{1, 1}, {1, -1}};
  const int8_t diagonal[2][2] = {{1, -1}, {-1, -1}};
  for (int64_t i = 0; i < c; ++i)
    for (int64_t j = 0; j < c; ++j) {
      int8_t conference =
          i == 0 ? (j == 0 ? 0 : 1) : (j == 0 ? 1 : jac[(i - 1) * q + (j - 1)]);
      for (int64_t a = 0; a < 2; ++a)
        for (int64_t b = 0; b < 2; ++b)
          h[(2 * i + a) * n + (2 * j + b)] = static_cast<int8_t>(
              conference * plus[a][b] + (i == j ? diagonal[a][b] : 0));
    }
  return h;
}

/// [[H, H], [H, -H]].
std::vector<int8_t> doubled(const std::vector<int8_t> &h, int64_t order) {
  int64_t n = 2 * order;
  std::vector<int8_t> out(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int8_t value = h[(i % order) * order + (j % order)];
      out[i * n + j] =
          i >= order && j >= order ? static_cast<int8_t>(-value) : value;
    }
  return out;
}

/// QuaRot's factor orders, in the order it tries them.
constexpr int64_t kQuaRotFactors[] = {172, 156, 140, 108, 60, 52,
                                      36,  28,  40,  20,  12};
} // namespace

llvm::Expected<std::vector<int8_t>> mlir::quark::hadamardMatrix(int64_t order) {
  if (order < 1)
    return hadamardError(
        llvm::formatv("no Hadamard matrix of order {0}", order));
  if (order == 1)
    return std::vector<int8_t>{1};
  if (order % 2 == 0 && isPowerOfTwo(order))
    return doubled(*hadamardMatrix(order / 2), order / 2);
  if (order % 4 != 0)
    return hadamardError(llvm::formatv(
        "no Hadamard matrix of order {0} (orders above 2 are multiples of 4)",
        order));
  if (std::optional<FiniteField> field = FiniteField::get(order - 1);
      field && (order - 1) % 4 == 3)
    return paleyOne(*field);
  if (std::optional<FiniteField> field = FiniteField::get(order / 2 - 1);
      field && (order / 2 - 1) % 4 == 1)
    return paleyTwo(*field);
  if (llvm::Expected<std::vector<int8_t>> half = hadamardMatrix(order / 2))
    return doubled(*half, order / 2);
  else
    llvm::consumeError(half.takeError());
  return hadamardError(llvm::formatv(
      "order {0} has no Paley or doubling construction here", order));
}

/// The orthonormal DCT-II matrix of order k (row-major):
/// C[i][j] = c_i cos(pi (2j + 1) i / 2k), c_0 = sqrt(1/k), c_i = sqrt(2/k).
std::vector<double> dctMatrix(int64_t k) {
  std::vector<double> c(static_cast<size_t>(k * k));
  double pi = std::acos(-1.0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j)
      c[i * k + j] = std::sqrt((i == 0 ? 1.0 : 2.0) / static_cast<double>(k)) *
                     std::cos(pi * static_cast<double>((2 * j + 1) * i) /
                              static_cast<double>(2 * k));
  return c;
}

llvm::Expected<HadamardRotation> HadamardRotation::get(int64_t size) {
  if (size < 1)
    return hadamardError(llvm::formatv("no rotation of size {0}", size));
  int64_t factor = 1;
  if (!isPowerOfTwo(size)) {
    factor = 0;
    for (int64_t k : kQuaRotFactors)
      if (size % k == 0 && isPowerOfTwo(size / k)) {
        factor = k;
        break;
      }
    if (factor == 0) // the odd part
      for (factor = size; factor % 2 == 0; factor /= 2) {
      }
  }
  std::vector<double> normalized(static_cast<size_t>(factor * factor));
  bool hadamard = true;
  if (llvm::Expected<std::vector<int8_t>> matrix = hadamardMatrix(factor)) {
    double scale = 1.0 / std::sqrt(static_cast<double>(factor));
    for (size_t i = 0; i < normalized.size(); ++i)
      normalized[i] = (*matrix)[i] * scale;
  } else {
    llvm::consumeError(matrix.takeError());
    normalized = dctMatrix(factor);
    hadamard = false;
  }
  return HadamardRotation(size, factor, std::move(normalized), hadamard);
}

void HadamardRotation::rotate(double *row, double *scratch) const {
  int64_t m = n / k;
  // x (A (x) H_m)^T / sqrt(m) as X [K, m]: A X H_m / sqrt(m).
  for (int64_t a = 0; a < k; ++a) {
    double *block = row + a * m;
    for (int64_t half = 1; half < m; half *= 2)
      for (int64_t start = 0; start < m; start += 2 * half)
        for (int64_t i = start; i < start + half; ++i) {
          double x = block[i], y = block[i + half];
          block[i] = x + y;
          block[i + half] = x - y;
        }
  }
  double norm = 1.0 / std::sqrt(static_cast<double>(m));
  if (k == 1) {
    for (int64_t i = 0; i < n; ++i)
      row[i] *= norm;
    return;
  }
  for (int64_t c = 0; c < k; ++c) {
    double *out = scratch + c * m;
    for (int64_t i = 0; i < m; ++i)
      out[i] = 0;
    for (int64_t a = 0; a < k; ++a) {
      double weight = factorMatrix[c * k + a] * norm;
      const double *block = row + a * m;
      for (int64_t i = 0; i < m; ++i)
        out[i] += weight * block[i];
    }
  }
  std::copy(scratch, scratch + n, row);
}

void HadamardRotation::rotateRows(llvm::MutableArrayRef<float> data,
                                  int64_t count) const {
  parallelChunks(count, 16, [&](int64_t begin, int64_t end) {
    std::vector<double> row(static_cast<size_t>(n)), scratch(row.size());
    for (int64_t r = begin; r < end; ++r) {
      float *values = data.data() + r * n;
      for (int64_t i = 0; i < n; ++i)
        row[i] = values[i];
      rotate(row.data(), scratch.data());
      for (int64_t i = 0; i < n; ++i)
        values[i] = static_cast<float>(row[i]);
    }
  });
}

void HadamardRotation::rotateColumns(llvm::MutableArrayRef<float> data,
                                     int64_t cols) const {
  // Column c of M^T W is (w_c^T M)^T: each column rotates as a row.
  parallelChunks(cols, 16, [&](int64_t begin, int64_t end) {
    std::vector<double> column(static_cast<size_t>(n)), scratch(column.size());
    for (int64_t c = begin; c < end; ++c) {
      for (int64_t i = 0; i < n; ++i)
        column[i] = data[i * cols + c];
      rotate(column.data(), scratch.data());
      for (int64_t i = 0; i < n; ++i)
        data[i * cols + c] = static_cast<float>(column[i]);
    }
  });
}

std::vector<double> HadamardRotation::matrix() const {
  std::vector<double> out(static_cast<size_t>(n * n), 0.0);
  std::vector<double> scratch(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    double *row = out.data() + i * n;
    row[i] = 1.0; // e_i M is row i of M
    rotate(row, scratch.data());
  }
  return out;
}
