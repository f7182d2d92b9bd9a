//===- QuantLayout.cpp - Element to parameter mapping ---------------------===//

#include "quark/Support/QuantLayout.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

namespace mlir::quark {

std::optional<QScheme> parseQScheme(std::string_view name) {
  if (name == "per_tensor")
    return QScheme::PerTensor;
  if (name == "per_channel")
    return QScheme::PerChannel;
  if (name == "per_group")
    return QScheme::PerGroup;
  if (name == "per_block")
    return QScheme::PerBlock;
  return std::nullopt;
}

std::string_view qschemeName(QScheme scheme) {
  switch (scheme) {
  case QScheme::PerTensor:
    return "per_tensor";
  case QScheme::PerChannel:
    return "per_channel";
  case QScheme::PerGroup:
    return "per_group";
  case QScheme::PerBlock:
    return "per_block";
  }
  return "per_tensor";
}

static llvm::Error layoutError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

llvm::Expected<QuantLayout> QuantLayout::get(llvm::ArrayRef<int64_t> shape,
                                             const TensorQuantSpec &spec) {
  QuantLayout layout;
  layout.scheme_ = spec.qscheme;
  layout.shape_.assign(shape.begin(), shape.end());
  for (int64_t dim : shape) {
    if (dim < 0)
      return layoutError("quantized tensors need a static shape");
    layout.numElements_ *= dim;
  }
  int64_t rank = static_cast<int64_t>(shape.size());

  switch (spec.qscheme) {
  case QScheme::PerTensor:
    return layout;
  case QScheme::PerBlock: {
    if (static_cast<int64_t>(spec.blockSize.size()) != rank)
      return layoutError(llvm::formatv(
          "per_block needs one block extent per dimension: block_size has "
          "{0} entries for a rank-{1} tensor",
          spec.blockSize.size(), rank));
    layout.numParams_ = 1;
    for (int64_t d = 0; d < rank; ++d) {
      if (spec.blockSize[d] <= 0)
        return layoutError("per_block block extents must be positive");
      layout.paramShape_.push_back((shape[d] + spec.blockSize[d] - 1) /
                                   spec.blockSize[d]);
      layout.numParams_ *= layout.paramShape_.back();
    }
    layout.blockSize_.assign(spec.blockSize.begin(), spec.blockSize.end());
    if (rank > 0) {
      layout.lastDim_ = shape.back();
      layout.lastBlock_ = spec.blockSize.back();
    }
    return layout;
  }
  case QScheme::PerChannel:
  case QScheme::PerGroup:
    break;
  }

  if (rank == 0)
    return layoutError(llvm::formatv("{0} needs a tensor of rank >= 1",
                                     qschemeName(spec.qscheme)));
  int64_t axis = spec.axis < 0 ? spec.axis + rank : spec.axis;
  if (axis < 0 || axis >= rank)
    return layoutError(llvm::formatv(
        "ch_axis {0} is out of range for a rank-{1} tensor", spec.axis, rank));
  layout.axisLen_ = shape[axis];
  for (int64_t d = axis + 1; d < rank; ++d)
    layout.inner_ *= shape[d];

  if (spec.qscheme == QScheme::PerChannel) {
    layout.paramShape_.push_back(layout.axisLen_);
    layout.numParams_ = layout.axisLen_;
    return layout;
  }

  int64_t group = spec.groupSize == -1 ? layout.axisLen_ : spec.groupSize;
  if (group <= 0)
    return layoutError(llvm::formatv(
        "group_size must be positive or -1, got {0}", spec.groupSize));
  // Only the block formats pad a ragged last block with zeros, as Quark's
  // reshape_to_blocks does; its integer/float per-group observer requires an
  // exact multiple.
  bool padsLastGroup = spec.usesMXScales() || spec.isBlockFloat();
  if (!padsLastGroup && layout.axisLen_ % group != 0)
    return layoutError(llvm::formatv(
        "dimension {0} has {1} elements, not a multiple of group_size {2}",
        axis, layout.axisLen_, group));
  layout.groupSize_ = group;
  layout.numGroups_ = (layout.axisLen_ + group - 1) / group;
  layout.paramShape_.assign(shape.begin(), shape.end());
  layout.paramShape_[axis] = layout.numGroups_;
  layout.numParams_ = 1;
  for (int64_t dim : layout.paramShape_)
    layout.numParams_ *= dim;
  return layout;
}

int64_t QuantLayout::paramIndex(int64_t flatIndex) const {
  switch (scheme_) {
  case QScheme::PerTensor:
    return 0;
  case QScheme::PerChannel:
    return (flatIndex / inner_) % axisLen_;
  case QScheme::PerGroup: {
    int64_t slab = axisLen_ * inner_;
    int64_t outer = flatIndex / slab;
    int64_t rest = flatIndex % slab;
    int64_t along = rest / inner_;
    int64_t in = rest % inner_;
    return (outer * numGroups_ + along / groupSize_) * inner_ + in;
  }
  case QScheme::PerBlock: {
    int64_t param = 0;
    int64_t remaining = flatIndex;
    int64_t elementStride = numElements_;
    for (size_t d = 0; d < shape_.size(); ++d) {
      elementStride /= shape_[d];
      int64_t coordinate = remaining / elementStride;
      remaining %= elementStride;
      param = param * paramShape_[d] + coordinate / blockSize_[d];
    }
    return param;
  }
  }
  return 0;
}

/// Elements per span of a per-tensor layout: large enough to run at memory
/// speed, small enough to split a tensor across threads.
static constexpr int64_t kPerTensorSpan = 1 << 16;

int64_t QuantLayout::numSpans() const {
  if (numElements_ == 0)
    return 0;
  switch (scheme_) {
  case QScheme::PerTensor:
    return (numElements_ + kPerTensorSpan - 1) / kPerTensorSpan;
  case QScheme::PerChannel:
    // A row along the axis (axis last), or one channel's inner run.
    return inner_ == 1 ? numElements_ / axisLen_ : numElements_ / inner_;
  case QScheme::PerGroup:
    return inner_ == 1 ? numElements_ / axisLen_ * numGroups_
                       : numElements_ / inner_;
  case QScheme::PerBlock: {
    if (shape_.empty())
      return 1;
    int64_t blocksPerRow = (lastDim_ + lastBlock_ - 1) / lastBlock_;
    return numElements_ / lastDim_ * blocksPerRow;
  }
  }
  return 0;
}

QuantSpan QuantLayout::span(int64_t index) const {
  switch (scheme_) {
  case QScheme::PerTensor: {
    int64_t start = index * kPerTensorSpan;
    return {start, std::min(kPerTensorSpan, numElements_ - start), 0, 0};
  }
  case QScheme::PerChannel:
    if (inner_ == 1)
      return {index * axisLen_, axisLen_, 0, 1};
    return {index * inner_, inner_, index % axisLen_, 0};
  case QScheme::PerGroup: {
    if (inner_ == 1) {
      int64_t row = index / numGroups_, group = index % numGroups_;
      int64_t start = row * axisLen_ + group * groupSize_;
      return {start, std::min(groupSize_, axisLen_ - group * groupSize_), index,
              0};
    }
    int64_t outer = index / axisLen_, along = index % axisLen_;
    return {index * inner_, inner_,
            (outer * numGroups_ + along / groupSize_) * inner_, 1};
  }
  case QScheme::PerBlock: {
    if (shape_.empty())
      return {0, numElements_, 0, 0};
    int64_t blocksPerRow = (lastDim_ + lastBlock_ - 1) / lastBlock_;
    int64_t row = index / blocksPerRow, block = index % blocksPerRow;
    int64_t start = row * lastDim_ + block * lastBlock_;
    return {start, std::min(lastBlock_, lastDim_ - block * lastBlock_),
            paramIndex(start), 0};
  }
  }
  return {0, 0, 0, 0};
}

int64_t QuantLayout::groupStart(int64_t param) const {
  int64_t in = param % inner_;
  int64_t rest = param / inner_;
  int64_t group = rest % numGroups_;
  int64_t outer = rest / numGroups_;
  return (outer * axisLen_ + group * groupSize_) * inner_ + in;
}

int64_t QuantLayout::groupExtent(int64_t param) const {
  int64_t group = (param / inner_) % numGroups_;
  return std::min(groupSize_, axisLen_ - group * groupSize_);
}

} // namespace mlir::quark
