//===- Npy.cpp - NumPy .npy files -----------------------------------------===//

#include "quark/Support/Npy.h"

#include "quark/Support/AtomicFile.h"
#include "quark/Support/ReadFile.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstring>

using namespace mlir::quark;

llvm::Error mlir::quark::writeNpy(llvm::StringRef path,
                                  llvm::ArrayRef<int64_t> shape,
                                  llvm::ArrayRef<float> values) {
  // A Python tuple: "()", "(5,)", "(2, 3)".
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i)
    dims += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1)
    dims += ",";
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad so magic + version + length + header is a multiple of 64.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  llvm::Expected<std::unique_ptr<AtomicFile>> file = AtomicFile::create(path);
  if (!file)
    return file.takeError();
  llvm::raw_ostream &os = (*file)->os();
  os << "\x93NUMPY";
  os << static_cast<char>(1) << static_cast<char>(0);
  char length[2];
  llvm::support::endian::write16le(length,
                                   static_cast<uint16_t>(header.size()));
  os.write(length, 2);
  os << header;
  os.write(reinterpret_cast<const char *>(values.data()), values.size() * 4);
  return (*file)->commit();
}

llvm::Expected<NpyArray> mlir::quark::readNpy(llvm::StringRef path) {
  auto fail = [&](const llvm::Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   path + ": " + message);
  };
  llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer = readFile(path);
  if (!buffer)
    return buffer.takeError();
  llvm::StringRef data = (*buffer)->getBuffer();
  if (data.size() < 10 || !data.starts_with("\x93NUMPY"))
    return fail("not a .npy file");
  uint16_t headerLength = llvm::support::endian::read16le(data.data() + 8);
  if (data[6] != 1 || 10u + headerLength > data.size())
    return fail("unsupported .npy version or truncated header");
  llvm::StringRef header = data.substr(10, headerLength);
  bool isFloat = header.contains("'<f4'");
  if (!isFloat && !header.contains("'<i4'"))
    return fail("only little-endian float32 and int32 arrays are supported");
  if (header.contains("'fortran_order': True"))
    return fail("Fortran-ordered arrays are not supported");
  size_t open = header.find('('), close = header.find(')');
  if (open == llvm::StringRef::npos || close == llvm::StringRef::npos)
    return fail("no shape in the header");
  NpyArray array;
  llvm::SmallVector<llvm::StringRef> parts;
  header.slice(open + 1, close).split(parts, ',', -1, false);
  int64_t count = 1;
  for (llvm::StringRef part : parts) {
    int64_t dim;
    if (part.trim().getAsInteger(10, dim) || dim < 0)
      return fail("bad shape in the header");
    array.shape.push_back(dim);
    count *= dim;
  }
  llvm::StringRef payload = data.substr(10 + headerLength);
  if (payload.size() != static_cast<size_t>(count) * 4)
    return fail("payload size does not match the shape");
  array.values.resize(count);
  for (int64_t i = 0; i < count; ++i) {
    uint32_t bits = llvm::support::endian::read32le(payload.data() + i * 4);
    if (isFloat)
      std::memcpy(&array.values[i], &bits, 4);
    else
      array.values[i] = static_cast<float>(static_cast<int32_t>(bits));
  }
  return array;
}
