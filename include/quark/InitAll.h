//===- InitAll.h - Register everything quark-opt knows ----------*- C++ -*-===//
//
// One place that lists the dialects and passes of the project's tools (and of
// any compiler embedding the framework), so quark-opt, quark-translate and
// the Python bindings agree.
//
//===----------------------------------------------------------------------===//

#ifndef QUARK_INITALL_H
#define QUARK_INITALL_H

namespace mlir {
class DialectRegistry;
namespace quark {

/// The quark dialect and the upstream dialects the project's IR uses.
void registerAllQuarkDialects(DialectRegistry &registry);
/// The quark passes plus the upstream passes pipelines are built from.
void registerAllQuarkPasses();

} // namespace quark
} // namespace mlir

#endif // QUARK_INITALL_H
