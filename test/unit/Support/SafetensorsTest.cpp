//===- SafetensorsTest.cpp - Reader validation, writer, checkpoints -------===//

#include "quark/Support/Safetensors.h"

#include "quark/Support/MiniFloat.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

using namespace mlir::quark;

namespace {

/// A fresh temporary folder, removed with everything in it at scope exit.
class TempDir {
public:
  TempDir() {
    llvm::SmallString<128> path;
    EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("quark-st", path));
    dir = path.str().str();
  }
  ~TempDir() { llvm::sys::fs::remove_directories(dir); }
  std::string file(llvm::StringRef name) const {
    llvm::SmallString<128> path(dir);
    llvm::sys::path::append(path, name);
    return path.str().str();
  }
  const std::string &path() const { return dir; }

private:
  std::string dir;
};

void writeRaw(const std::string &path, llvm::StringRef bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  ASSERT_FALSE(ec);
  os << bytes;
}

/// A safetensors file with `header` as its JSON and `dataSize` zero bytes.
std::string makeFile(llvm::StringRef header, size_t dataSize,
                     uint64_t declaredHeaderSize = UINT64_MAX) {
  std::string bytes(8, '\0');
  llvm::support::endian::write64le(
      bytes.data(),
      declaredHeaderSize == UINT64_MAX ? header.size() : declaredHeaderSize);
  bytes += header.str();
  bytes.append(dataSize, '\0');
  return bytes;
}

std::string openError(const TempDir &dir, llvm::StringRef bytes) {
  std::string path = dir.file("bad.safetensors");
  writeRaw(path, bytes);
  llvm::Expected<std::unique_ptr<SafetensorsFile>> file =
      SafetensorsFile::open(path);
  if (file)
    return "<opened>";
  std::string message = llvm::toString(file.takeError());
  // Strip the path prefix for stable comparisons.
  return message.substr(message.find(": ") + 2);
}

TEST(Safetensors, WriterReaderRoundTrip) {
  TempDir dir;
  std::string path = dir.file("model.safetensors");
  std::vector<SafetensorsWriter::Declaration> tensors = {
      {"a.bf16", TensorDType::BF16, {2, 3}},
      {"b.f32", TensorDType::F32, {4}},
      {"c.empty", TensorDType::F16, {0, 5}},
      {"d.scalar", TensorDType::I8, {}},
  };
  auto writer = SafetensorsWriter::create(path, tensors, {{"format", "pt"}});
  ASSERT_TRUE(static_cast<bool>(writer)) << llvm::toString(writer.takeError());
  std::vector<uint16_t> bf16;
  for (float x : {1.0f, -2.5f, 3.0f, 0.5f, 100.0f, -0.0f})
    bf16.push_back(encodeBFloat16(x));
  // Stream the bf16 tensor in two chunks.
  llvm::ArrayRef<uint8_t> bf16Bytes(reinterpret_cast<uint8_t *>(bf16.data()),
                                    bf16.size() * 2);
  ASSERT_FALSE(static_cast<bool>((*writer)->append(bf16Bytes.take_front(5))));
  ASSERT_FALSE(static_cast<bool>((*writer)->append(bf16Bytes.drop_front(5))));
  float f32[4] = {1.5f, 2.5f, -3.5f, 4.5f};
  ASSERT_FALSE(static_cast<bool>((*writer)->write(
      "b.f32", {reinterpret_cast<uint8_t *>(f32), sizeof(f32)})));
  int8_t scalar = -7;
  ASSERT_FALSE(static_cast<bool>(
      (*writer)->write("d.scalar", {reinterpret_cast<uint8_t *>(&scalar), 1})));
  ASSERT_FALSE(static_cast<bool>((*writer)->finish()));

  auto file = SafetensorsFile::open(path);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  ASSERT_EQ((*file)->tensors().size(), 4u);
  const TensorInfo *a = (*file)->find("a.bf16");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->dtype, TensorDType::BF16);
  EXPECT_EQ(a->shape, (llvm::SmallVector<int64_t, 4>{2, 3}));
  auto values = readTensorAsFloat({file->get(), a});
  ASSERT_TRUE(static_cast<bool>(values));
  EXPECT_EQ(*values,
            (std::vector<float>{1.0f, -2.5f, 3.0f, 0.5f, 100.0f, -0.0f}));
  auto b = readTensorAsFloat({file->get(), (*file)->find("b.f32")});
  EXPECT_EQ(*b, (std::vector<float>{1.5f, 2.5f, -3.5f, 4.5f}));
  EXPECT_EQ((*file)->find("c.empty")->size, 0u);
  auto d = readTensorAsFloat({file->get(), (*file)->find("d.scalar")});
  EXPECT_EQ(*d, (std::vector<float>{-7.0f}));
  // The data section is 8-byte aligned after the padded header.
  EXPECT_EQ((*file)->tensors().front().offset % 8, 0u);
}

TEST(Safetensors, WriterIsAtomic) {
  TempDir dir;
  std::string path = dir.file("out.safetensors");
  {
    auto writer =
        SafetensorsWriter::create(path, {{"x", TensorDType::F32, {2}}});
    ASSERT_TRUE(static_cast<bool>(writer));
    float value = 1.0f;
    ASSERT_FALSE(static_cast<bool>(
        (*writer)->append({reinterpret_cast<uint8_t *>(&value), 4})));
    llvm::Error error = (*writer)->finish();
    EXPECT_EQ(llvm::toString(std::move(error)).substr(path.size()),
              ": tensor 'x' was declared but not written");
  }
  // Neither the file nor a temporary remains.
  std::error_code ec;
  int entries = 0;
  for (llvm::sys::fs::directory_iterator it(dir.path(), ec), end;
       it != end && !ec; it.increment(ec))
    ++entries;
  EXPECT_EQ(entries, 0);

  auto writer = SafetensorsWriter::create(
      path, {{"x", TensorDType::F32, {1}}, {"x", TensorDType::F32, {1}}});
  ASSERT_FALSE(static_cast<bool>(writer));
  EXPECT_NE(
      llvm::toString(writer.takeError()).find("duplicate tensor name 'x'"),
      std::string::npos);
}

TEST(Safetensors, FinishedWriterLeavesReusedDescriptorsAlone) {
  // finish() closes the file; the descriptor number then goes to the next
  // file opened. Destroying the writer must not write to or truncate it.
  TempDir dir;
  auto writer = SafetensorsWriter::create(dir.file("out.safetensors"),
                                          {{"x", TensorDType::F32, {1}}});
  ASSERT_TRUE(static_cast<bool>(writer));
  float value = 2.0f;
  ASSERT_FALSE(static_cast<bool>(
      (*writer)->write("x", {reinterpret_cast<uint8_t *>(&value), 4})));
  ASSERT_FALSE(static_cast<bool>((*writer)->finish()));
  std::string other = dir.file("other.bin");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(other, ec);
    ASSERT_FALSE(ec);
    os << std::string(10000, 'x');
    os.flush();
    writer->reset(); // while `other` holds the lowest free descriptor
  }
  uint64_t size = 0;
  ASSERT_FALSE(llvm::sys::fs::file_size(other, size));
  EXPECT_EQ(size, 10000u);
}

TEST(Safetensors, WriterChecksOrderAndSizes) {
  TempDir dir;
  auto writer = SafetensorsWriter::create(
      dir.file("w.safetensors"),
      {{"first", TensorDType::U8, {2}}, {"second", TensorDType::U8, {1}}});
  ASSERT_TRUE(static_cast<bool>(writer));
  uint8_t bytes[3] = {1, 2, 3};
  llvm::Error outOfOrder = (*writer)->write("second", {bytes, 1});
  EXPECT_NE(llvm::toString(std::move(outOfOrder))
                .find("tensor 'second' is not the next declared tensor"),
            std::string::npos);
  llvm::Error wrongSize = (*writer)->write("first", {bytes, 3});
  EXPECT_NE(llvm::toString(std::move(wrongSize))
                .find("tensor 'first' is declared with 2 bytes, got 3"),
            std::string::npos);
}

TEST(Safetensors, ReaderErrors) {
  TempDir dir;
  const char *f32x2 =
      R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_EQ(openError(dir, makeFile(f32x2, 8)), "<opened>");
  EXPECT_EQ(openError(dir, "abc"),
            "the file has 3 bytes, too few for the 8-byte header length");
  EXPECT_EQ(openError(dir, makeFile(f32x2, 8, 1000)),
            "header length 1000 runs past the end of the file (70 bytes)");
  EXPECT_EQ(openError(dir, makeFile("{\"w\": ", 0)).substr(0, 20),
            "invalid JSON header:");
  EXPECT_EQ(openError(dir, makeFile("[1, 2]", 0)),
            "the header must be a JSON object");
  EXPECT_EQ(
      openError(
          dir,
          makeFile(R"({"w":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}})",
                   8)),
      "tensor 'w': unknown dtype 'F7'");
  EXPECT_EQ(
      openError(
          dir,
          makeFile(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})",
                   8)),
      "tensor 'w': shape entries must be non-negative integers");
  EXPECT_EQ(
      openError(
          dir,
          makeFile(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                   8)),
      "tensor 'w': data_offsets span 8 bytes but shape x 3 elements of "
      "F32 need 12");
  EXPECT_EQ(
      openError(
          dir,
          makeFile(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})",
                   8)),
      "tensor 'w': 'data_offsets' must be integers with 0 <= begin <= end");
  EXPECT_EQ(openError(dir, makeFile(R"({"w":{"dtype":"F32","shape":[2]}})", 8)),
            "tensor 'w': 'data_offsets' must be [begin, end]");
  EXPECT_EQ(openError(dir, makeFile(R"({"w":{"shape":[2]}})", 8)),
            "tensor 'w': missing string 'dtype'");
  EXPECT_EQ(
      openError(
          dir,
          makeFile(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                   4)),
      "tensor 'w' ends at data offset 8, past the end of the data (4 bytes)");
  EXPECT_EQ(
      openError(
          dir,
          makeFile(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                   8)),
      "tensor 'b' at data offset 4 overlaps the previous tensor, which "
      "ends at 8");
  EXPECT_EQ(
      openError(
          dir,
          makeFile(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                   8)),
      "tensor 'a' starts at data offset 4, leaving a hole after offset 0");
  EXPECT_EQ(openError(dir, makeFile(f32x2, 12)),
            "the data section has 12 bytes but the tensors cover 8");
  EXPECT_EQ(
      openError(
          dir,
          makeFile(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                   R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                   8)),
      "duplicate tensor name 'w'");
  EXPECT_EQ(
      openError(
          dir,
          makeFile(R"({"__metadata__":{"k":1},)"
                   R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
                   8)),
      "'__metadata__' entry 'k' must be a string");
  EXPECT_EQ(
      openError(
          dir, makeFile(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,)"
                        R"(4294967296],"data_offsets":[0,8]}})",
                        8)),
      "tensor 'w': shape is too large");
}

TEST(Safetensors, ShardedCheckpoint) {
  TempDir dir;
  auto writeShard = [&](const std::string &name, const std::string &tensor) {
    auto writer = SafetensorsWriter::create(dir.file(name),
                                            {{tensor, TensorDType::F32, {1}}});
    ASSERT_TRUE(static_cast<bool>(writer));
    float value = 2.0f;
    ASSERT_FALSE(static_cast<bool>(
        (*writer)->write(tensor, {reinterpret_cast<uint8_t *>(&value), 4})));
    ASSERT_FALSE(static_cast<bool>((*writer)->finish()));
  };
  writeShard("model-00001-of-00002.safetensors", "a");
  writeShard("model-00002-of-00002.safetensors", "b");
  writeRaw(dir.file("model.safetensors.index.json"),
           R"({"metadata":{"total_size":8},"weight_map":{)"
           R"("a":"model-00001-of-00002.safetensors",)"
           R"("b":"model-00002-of-00002.safetensors"}})");
  auto checkpoint = SafetensorsCheckpoint::open(dir.path());
  ASSERT_TRUE(static_cast<bool>(checkpoint))
      << llvm::toString(checkpoint.takeError());
  EXPECT_EQ((*checkpoint)->names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((*checkpoint)->files().size(), 2u);
  EXPECT_EQ((*checkpoint)->totalBytes(), 8u);
  ASSERT_TRUE((*checkpoint)->find("b").has_value());
  EXPECT_FALSE((*checkpoint)->find("c").has_value());

  auto indexError = [&](llvm::StringRef index) {
    writeRaw(dir.file("model.safetensors.index.json"), index);
    auto opened = SafetensorsCheckpoint::open(dir.path());
    if (opened)
      return std::string("<opened>");
    std::string message = llvm::toString(opened.takeError());
    return message.substr(message.find(": ") + 2);
  };
  EXPECT_EQ(indexError(R"({"weight_map":{"a":"model-00009.safetensors"}})"),
            "shard 'model-00009.safetensors' (holding 'a') is missing");
  EXPECT_EQ(
      indexError(R"({"weight_map":{"z":"model-00001-of-00002.safetensors"}})"),
      "the index places tensor 'z' here, but the shard does not hold it");
  EXPECT_EQ(indexError(R"({"weight_map":{"a":"../x.safetensors"}})"),
            "weight_map entry 'a' names '../x.safetensors', not a file in the "
            "checkpoint folder");
  EXPECT_EQ(indexError(R"({"metadata":{}})"),
            "expected an object with a 'weight_map'");
  EXPECT_EQ(indexError("{oops"), std::string("invalid JSON: ") +
                                     "[1:2, byte=2]: Expected object key");

  TempDir empty;
  auto none = SafetensorsCheckpoint::open(empty.path());
  ASSERT_FALSE(static_cast<bool>(none));
  EXPECT_NE(llvm::toString(none.takeError())
                .find("no model.safetensors or model.safetensors.index.json"),
            std::string::npos);
}

TEST(Safetensors, Conversions) {
  uint16_t f16[3] = {0x3C00, 0xC000, 0x7C00};
  std::vector<float> out(3);
  ASSERT_FALSE(static_cast<bool>(convertToFloat(
      TensorDType::F16, {reinterpret_cast<uint8_t *>(f16), 6}, out)));
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_TRUE(std::isinf(out[2]));
  uint8_t fp8[2] = {0x7E, 0x38};
  std::vector<float> out8(2);
  ASSERT_FALSE(
      static_cast<bool>(convertToFloat(TensorDType::F8_E4M3, {fp8, 2}, out8)));
  EXPECT_EQ(out8, (std::vector<float>{448.0f, 1.0f}));
  llvm::Error mismatch = convertToFloat(TensorDType::F32, {fp8, 2}, out8);
  EXPECT_EQ(llvm::toString(std::move(mismatch)),
            "2 bytes do not hold 2 F32 elements");
}

} // namespace
