//===- TestScalingGroups.cpp - Print the scaling-group analysis -----------===//

#include "quark/Analysis/ScalingGroups.h"
#include "quark/Transforms/Passes.h"

#include "llvm/Support/raw_ostream.h"

namespace mlir::quark {
#define GEN_PASS_DEF_QUARKTESTSCALINGGROUPS
#include "quark/Transforms/Passes.h.inc"
} // namespace mlir::quark

using namespace mlir;
using namespace mlir::quark;

namespace {
struct TestScalingGroupsPass
    : mlir::quark::impl::QuarkTestScalingGroupsBase<TestScalingGroupsPass> {
  void runOnOperation() override {
    llvm::raw_ostream &os = llvm::outs();
    getOperation().walk([&](BlockOp block) {
      for (const ScalingGroup &group : findScalingGroups(block)) {
        os << block.getName() << ": " << group.producerName() << " ->";
        llvm::interleave(
            group.consumers, os,
            [&](LinearOp linear) { os << " " << linear.getName(); }, ",");
        os << " [" << group.channels << "]\n";
      }
    });
  }
};
} // namespace
