//===- Calibration.h - Fill observers from calibration text -----*- C++ -*-===//
//
// The work of `quark-calibrate`, callable directly (the driver uses it to
// report where calibration time goes).
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_TRANSFORMS_CALIBRATION_H
#define QUARK_TRANSFORMS_CALIBRATION_H

#include "quark/Dialect/Quark/IR/QuarkDialect.h"
#include "quark/Runtime/Tensor.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace mlir::quark {

struct CalibrationOptions {
  /// A UTF-8 file or a folder of .txt files.
  std::string dataset;
  /// Tokenizer folder; empty: the model folder.
  std::string tokenizerDir;
  int64_t seqLen = 512;
  int64_t numCalibData = 512;
  int64_t batchSize = 1;
};

struct CalibrationReport {
  int64_t observers = 0;
  int64_t windows = 0;
  int64_t tokens = 0; // in the tokenized text
  double tokenizeSeconds = 0;
  double forwardSeconds = 0; // executor time, observing excluded
  double observeSeconds = 0; // statistics
};

/// The calibration text as token windows, in batches of `batchSize`
/// windows (one int32 [batch, seqLen] tensor each): the first
/// `numCalibData` windows of the whole text tokenized once.
struct CalibrationBatches {
  std::vector<std::vector<Tensor>> batches;
  int64_t windows = 0;
  int64_t tokens = 0;
  double tokenizeSeconds = 0;
};
FailureOr<CalibrationBatches>
loadCalibrationBatches(ModuleOp module, const CalibrationOptions &options);

/// Runs the calibration windows through `@forward` and records every
/// `quark.observe`'s statistics on it. Errors are diagnostics on `module`.
FailureOr<CalibrationReport> calibrateModule(ModuleOp module,
                                             const CalibrationOptions &options);

/// Whether a tensor quantized by `spec` needs calibrated parameters, which
/// a checkpoint then stores: static integer or scaled-float specs do;
/// dynamic specs, MX, block formats and casts derive everything from the
/// data.
bool needsCalibration(TensorSpecAttr spec);

} // namespace mlir::quark

#endif // QUARK_TRANSFORMS_CALIBRATION_H
