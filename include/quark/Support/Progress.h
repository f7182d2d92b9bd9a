//===- Progress.h - Progress bars on stderr ---------------------*- C++ -*-===//
//
// A one-line progress bar for work that takes more than a few seconds. It
// draws only when stderr is a terminal (logs and CI output stay clean) and
// redraws at most ten times a second.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_SUPPORT_PROGRESS_H
#define QUARK_SUPPORT_PROGRESS_H

#include "llvm/ADT/StringRef.h"

#include <chrono>
#include <cstdint>
#include <string>

namespace mlir::quark {

class ProgressBar {
public:
  /// `unit` names what is counted ("windows", "layers").
  ProgressBar(llvm::StringRef label, int64_t total, llvm::StringRef unit);
  ~ProgressBar();

  void update(int64_t done);
  /// Draws the final state and ends the line.
  void finish();
  /// Forces drawing on or off (tests; the default follows stderr).
  void setEnabled(bool enabled) { this->enabled = enabled; }

private:
  void draw(bool force);

  std::string label, unit;
  int64_t total, done = 0;
  bool enabled, finished = false;
  std::chrono::steady_clock::time_point start, lastDraw;
};

} // namespace mlir::quark

#endif // QUARK_SUPPORT_PROGRESS_H
