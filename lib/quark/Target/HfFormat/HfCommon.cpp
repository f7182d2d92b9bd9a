//===- HfCommon.cpp - Shared pieces of the safetensors exporters ----------===//

#include "HfCommon.h"

#include "quark/Analysis/SpecNumerics.h"
#include "quark/Support/StoredLayout.h"

#include "mlir/IR/Matchers.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::quark;

uint64_t ManifestTensor::byteSize() const {
  uint64_t count = tensorDTypeSize(dtype);
  for (int64_t dim : shape)
    count *= static_cast<uint64_t>(dim);
  return count;
}

llvm::Expected<ManifestTensor>
mlir::quark::floatParamTensor(ParamOp param, WeightStore &store,
                              const std::string &name) {
  std::string source = param.getName().str();
  llvm::Expected<SafetensorsCheckpoint *> checkpoint = store.checkpoint();
  if (!checkpoint)
    return checkpoint.takeError();
  std::optional<TensorRef> ref = (*checkpoint)->find(source);
  std::optional<llvm::StringRef> file = param.getFile();
  if (!ref && !file)
    return makeExportError("the model checkpoint has no tensor '" + source +
                           "'");
  if (!file) {
    TensorRef tensor = *ref;
    return ManifestTensor{name, tensor.info->dtype, tensor.info->shape,
                          [tensor]() -> llvm::Expected<ExportBytes> {
                            return ExportBytes::borrowed(tensor);
                          }};
  }
  // Rewritten by an algorithm (float32 in its file): written in the
  // checkpoint's dtype for that tensor, which the model computes in.
  TensorDType dtype = TensorDType::F32;
  llvm::SmallVector<int64_t, 4> shape(param.getType().getShape());
  if (ref) {
    dtype = ref->info->dtype;
    shape = ref->info->shape;
  } else if (param.getType().getElementType().isBF16()) {
    dtype = TensorDType::BF16;
  } else if (param.getType().getElementType().isF16()) {
    dtype = TensorDType::F16;
  }
  WeightStore *weights = &store;
  std::string path = file->str();
  return ManifestTensor{
      name, dtype, shape,
      [weights, source, path, dtype, shape]() -> llvm::Expected<ExportBytes> {
        llvm::Expected<Tensor> value = weights->get(source, path);
        if (!value)
          return value.takeError();
        return encodeStoredFloats(StoredLayout(), dtype, shape,
                                  value->floats());
      }};
}

FailureOr<std::optional<StaticQuantizer>>
mlir::quark::staticQuantizerOf(Value value, Type modelFloat, Operation *at,
                               llvm::StringRef base, bool *dynamic) {
  if (dynamic)
    *dynamic = false;
  Operation *producer = value.getDefiningOp();
  if (!producer)
    return std::optional<StaticQuantizer>();
  if (isa<TwoStageFakeQuantOp>(producer))
    return at->emitError()
           << "'" << base
           << "': a two-stage (NVFP4) quantizer here has no stored form "
              "(hf_format holds NVFP4 linear inputs only)";
  auto fakeQuant = dyn_cast<FakeQuantOp>(producer);
  if (!fakeQuant)
    return std::optional<StaticQuantizer>(); // float
  if (!fakeQuant.getScale()) {
    if (dynamic)
      *dynamic = true;
    return std::optional<StaticQuantizer>();
  }
  DenseElementsAttr scaleAttr, zeroAttr;
  if (!matchPattern(fakeQuant.getScale(), m_Constant(&scaleAttr)) ||
      (fakeQuant.getZeroPoint() &&
       !matchPattern(fakeQuant.getZeroPoint(), m_Constant(&zeroAttr))))
    return at->emitError() << "'" << base
                           << "': a static quantizer whose parameters "
                              "are not constants cannot be exported";
  FailureOr<TensorQuantSpec> numerics = getTensorQuantSpec(
      fakeQuant.getSpec(), modelFloat, [&] { return at->emitError(); });
  if (failed(numerics))
    return failure();
  StaticQuantizer quantizer;
  quantizer.op = fakeQuant;
  quantizer.numerics = *numerics;
  quantizer.scales = readFloats(scaleAttr);
  if (zeroAttr)
    quantizer.zeroPoints = readInts(zeroAttr);
  quantizer.paramShape.assign(
      cast<ShapedType>(scaleAttr.getType()).getShape().begin(),
      cast<ShapedType>(scaleAttr.getType()).getShape().end());
  return std::optional<StaticQuantizer>(std::move(quantizer));
}

FailureOr<std::optional<StaticQuantizer>>
mlir::quark::outputQuantizerOf(LinearOp linear, Type modelFloat,
                               llvm::StringRef base) {
  Value output = linear.getResult();
  if (!output.hasOneUse())
    return std::optional<StaticQuantizer>();
  auto user = dyn_cast<FakeQuantOp>(*output.getUsers().begin());
  if (!user)
    return std::optional<StaticQuantizer>();
  return staticQuantizerOf(user.getResult(), modelFloat, linear, base);
}

llvm::Error mlir::quark::writeSafetensorsFile(
    llvm::StringRef path, llvm::ArrayRef<const ManifestTensor *> tensors,
    const std::map<std::string, std::string> &metadata) {
  std::vector<SafetensorsWriter::Declaration> declarations;
  for (const ManifestTensor *tensor : tensors)
    declarations.push_back({tensor->name, tensor->dtype, tensor->shape});
  llvm::Expected<std::unique_ptr<SafetensorsWriter>> writer =
      SafetensorsWriter::create(path, declarations, metadata);
  if (!writer)
    return writer.takeError();
  for (const ManifestTensor *tensor : tensors) {
    llvm::Expected<ExportBytes> bytes = tensor->produce();
    if (!bytes)
      return makeExportError("tensor '" + tensor->name +
                             "': " + llvm::toString(bytes.takeError()));
    if (bytes->size() != tensor->byteSize())
      return makeExportError("tensor '" + tensor->name + "': produced " +
                             llvm::Twine(bytes->size()) + " bytes for " +
                             llvm::Twine(tensor->byteSize()) + " declared");
    if (llvm::Error error = (*writer)->begin(tensor->name))
      return error;
    if (llvm::Error error = std::move(*bytes).writeTo(**writer))
      return error;
  }
  return (*writer)->finish();
}

llvm::SmallString<256> mlir::quark::absolutePath(llvm::StringRef path) {
  llvm::SmallString<256> result(path);
  llvm::sys::fs::make_absolute(result);
  llvm::sys::path::remove_dots(result, /*remove_dot_dot=*/true);
  return result;
}

bool mlir::quark::isEmptyDirectory(llvm::StringRef dir) {
  std::error_code ec;
  llvm::sys::fs::directory_iterator it(dir, ec);
  return !ec && it == llvm::sys::fs::directory_iterator();
}

namespace {
void discardFolder(llvm::StringRef dir) {
  (void)llvm::sys::fs::remove_directories(dir);
}

/// Moves the folder `temp` to `out`, replacing an old `out` only once the
/// new one is in place.
llvm::Error replaceFolder(llvm::StringRef temp, llvm::StringRef out) {
  llvm::SmallString<256> old;
  if (llvm::sys::fs::exists(out)) {
    old = (out + ".old").str();
    if (std::error_code ec = llvm::sys::fs::createUniqueDirectory(old, old))
      return makeExportError(out + ": " + ec.message());
    llvm::sys::fs::remove(old);
    if (std::error_code ec = llvm::sys::fs::rename(out, old))
      return makeExportError(out + ": cannot move aside: " + ec.message());
  }
  if (std::error_code ec = llvm::sys::fs::rename(temp, out)) {
    if (!old.empty())
      (void)llvm::sys::fs::rename(old, out);
    return makeExportError(out + ": cannot rename into place: " + ec.message());
  }
  if (!old.empty())
    discardFolder(old);
  return llvm::Error::success();
}

/// Moves every file of `temp` into `out`. A failed move takes back the
/// files already moved (files they replaced are gone: a rename replaces).
llvm::Error moveFilesInto(llvm::StringRef temp, llvm::StringRef out) {
  if (std::error_code ec = llvm::sys::fs::create_directories(out))
    return makeExportError(out + ": cannot create: " + ec.message());
  std::vector<std::string> names;
  std::error_code ec;
  for (llvm::sys::fs::directory_iterator it(temp, ec), end; it != end && !ec;
       it.increment(ec))
    names.push_back(llvm::sys::path::filename(it->path()).str());
  if (ec)
    return makeExportError(temp + ": " + ec.message());
  std::vector<std::string> moved;
  for (const std::string &name : names) {
    llvm::SmallString<256> from(temp), to(out);
    llvm::sys::path::append(from, name);
    llvm::sys::path::append(to, name);
    if (std::error_code error = llvm::sys::fs::rename(from, to)) {
      for (const std::string &done : moved)
        (void)llvm::sys::fs::remove(done);
      return makeExportError(to +
                             ": cannot move into place: " + error.message());
    }
    moved.push_back(to.str().str());
  }
  discardFolder(temp);
  return llvm::Error::success();
}
} // namespace

llvm::Error mlir::quark::publishFolder(
    llvm::StringRef target, bool wholeFolder,
    llvm::function_ref<llvm::Error(llvm::StringRef dir)> fill) {
  llvm::SmallString<256> out = absolutePath(target);
  llvm::SmallString<256> parent = llvm::sys::path::parent_path(out);
  if (std::error_code ec = llvm::sys::fs::create_directories(parent))
    return makeExportError(parent + ": " + ec.message());
  llvm::SmallString<256> temp;
  if (std::error_code ec =
          llvm::sys::fs::createUniqueDirectory((out + ".tmp").str(), temp))
    return makeExportError(
        out + ": cannot create a temporary folder: " + ec.message());
  if (llvm::Error error = fill(temp)) {
    discardFolder(temp);
    return makeExportError(
        out + ": export failed: " + llvm::toString(std::move(error)));
  }
  llvm::Error placed =
      wholeFolder ? replaceFolder(temp, out) : moveFilesInto(temp, out);
  if (placed)
    discardFolder(temp);
  return placed;
}
