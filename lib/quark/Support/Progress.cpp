//===- Progress.cpp - Progress bars on stderr -----------------------------===//

#include "quark/Support/Progress.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir::quark;

ProgressBar::ProgressBar(llvm::StringRef label, int64_t total,
                         llvm::StringRef unit)
    : label(label.str()), unit(unit.str()), total(total),
      enabled(llvm::sys::Process::StandardErrIsDisplayed()),
      start(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
  if (!finished && done > 0)
    finish();
}

void ProgressBar::update(int64_t value) {
  done = value;
  draw(/*force=*/false);
}

void ProgressBar::finish() {
  if (finished)
    return;
  finished = true;
  draw(/*force=*/true);
  if (enabled)
    llvm::errs() << "\n";
}

void ProgressBar::draw(bool force) {
  if (!enabled)
    return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - lastDraw < std::chrono::milliseconds(100))
    return;
  lastDraw = now;
  double elapsed = std::chrono::duration<double>(now - start).count();
  double fraction = total > 0 ? static_cast<double>(done) / total : 1.0;
  constexpr int width = 30;
  int filled = static_cast<int>(fraction * width);
  std::string bar(filled, '#');
  bar.resize(width, '.');
  llvm::errs() << "\r" << label << " [" << bar << "] " << done << "/" << total
               << " " << unit << "  " << llvm::format("%.1f s", elapsed);
  if (done > 0 && done < total)
    llvm::errs() << llvm::format(", %.0f s left",
                                 elapsed / done * (total - done));
  llvm::errs() << "   ";
  llvm::errs().flush();
}
