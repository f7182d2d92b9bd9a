//===- GgufTest.cpp - GGUF reader: metadata and validation ----------------===//

#include "quark/Support/Gguf.h"

#include "gtest/gtest.h"

#include <cstring>
#include <string>

using namespace mlir::quark;

namespace {

/// Builds GGUF images byte by byte.
class Image {
public:
  Image &u32(uint32_t v) { return raw(&v, 4); }
  Image &u64(uint64_t v) { return raw(&v, 8); }
  Image &f32(float v) { return raw(&v, 4); }
  Image &str(const std::string &s) {
    u64(s.size());
    bytes += s;
    return *this;
  }
  Image &header(uint64_t tensors, uint64_t keys, uint32_t version = 3) {
    bytes += "GGUF";
    return u32(version).u64(tensors).u64(keys);
  }
  std::string bytes;

private:
  Image &raw(const void *p, size_t n) {
    bytes.append(static_cast<const char *>(p), n);
    return *this;
  }
};

std::string errorOf(const std::string &bytes) {
  auto file = GgufFile::parse(bytes, "x.gguf");
  if (file)
    return "";
  return llvm::toString(file.takeError());
}

TEST(GgufTest, ReadsMetadataAndTensorInfos) {
  Image image;
  image.header(1, 4);
  image.str("general.name").u32(8).str("tiny");
  image.str("general.alignment").u32(4).u32(64);
  image.str("tokenizer.ggml.scores").u32(9).u32(6).u64(2).f32(-1.5f).f32(2.0f);
  image.str("flag").u32(7);
  image.bytes += '\x01';
  image.str("blk.0.w").u32(2).u64(4).u64(3).u32(0).u64(0);
  auto file = GgufFile::parse(image.bytes, "x.gguf");
  ASSERT_TRUE(bool(file)) << llvm::toString(file.takeError());
  EXPECT_EQ((*file)->version(), 3u);
  EXPECT_EQ(*(*file)->get("general.name")->asString(), "tiny");
  const auto *scores = (*file)->get("tokenizer.ggml.scores")->asArray();
  ASSERT_TRUE(scores);
  ASSERT_EQ(scores->size(), 2u);
  EXPECT_EQ((*scores)[0].asFloat(), -1.5);
  EXPECT_EQ((*file)->get("flag")->asInt(), 1);
  EXPECT_EQ((*file)->keys().size(), 4u);
  ASSERT_EQ((*file)->tensors().size(), 1u);
  EXPECT_EQ((*file)->tensors()[0].name, "blk.0.w");
  EXPECT_EQ((*file)->tensors()[0].dims, (std::vector<uint64_t>{4, 3}));
  // Data starts at the next multiple of general.alignment.
  EXPECT_EQ((*file)->dataOffset() % 64, 0u);
  EXPECT_GE((*file)->dataOffset(), image.bytes.size());
}

TEST(GgufTest, CorruptFilesAreErrors) {
  EXPECT_NE(errorOf("GGML").find("bad magic"), std::string::npos);
  EXPECT_NE(
      errorOf(Image().header(0, 0, 1).bytes).find("unsupported GGUF version 1"),
      std::string::npos);
  EXPECT_NE(errorOf("GGUF\x03").find("truncated"), std::string::npos);
  {
    // A string length far beyond the file.
    Image image;
    image.header(0, 1).u64(1ull << 60);
    EXPECT_NE(errorOf(image.bytes).find("a metadata key runs past the end"),
              std::string::npos);
  }
  {
    // An array count that would allocate terabytes.
    Image image;
    image.header(0, 1).str("a").u32(9).u32(4).u64(1ull << 40);
    EXPECT_NE(errorOf(image.bytes).find("array elements"), std::string::npos);
  }
  {
    Image image;
    image.header(0, 1).str("a").u32(99);
    EXPECT_NE(errorOf(image.bytes).find("unknown value type 99"),
              std::string::npos);
  }
  {
    Image image;
    image.header(0, 2).str("a").u32(4).u32(1).str("a").u32(4).u32(2);
    EXPECT_NE(errorOf(image.bytes).find("duplicate metadata key 'a'"),
              std::string::npos);
  }
  {
    Image image;
    image.header(0, 1).str("general.alignment").u32(4).u32(48);
    EXPECT_NE(errorOf(image.bytes).find("power of two"), std::string::npos);
  }
  {
    // Arrays of arrays of ... stop at a fixed depth instead of recursing
    // without bound.
    Image image;
    image.header(0, 1).str("a");
    image.u32(9);
    for (int i = 0; i < 10; ++i)
      image.u32(9).u64(1);
    image.u32(4).u64(1).u32(0);
    EXPECT_NE(errorOf(image.bytes).find("nested too deeply"),
              std::string::npos);
  }
  {
    Image image;
    image.header(1, 0).str("t").u32(40);
    EXPECT_NE(errorOf(image.bytes).find("has 40 dimensions"),
              std::string::npos);
  }
  {
    Image image;
    image.header(1ull << 40, 0);
    EXPECT_NE(errorOf(image.bytes).find("tensor infos"), std::string::npos);
  }
}

TEST(GgufTest, MissingFileNamesThePath) {
  auto file = GgufFile::open("/nonexistent/model.gguf");
  ASSERT_FALSE(bool(file));
  EXPECT_NE(llvm::toString(file.takeError()).find("/nonexistent/model.gguf"),
            std::string::npos);
}

} // namespace

//===----------------------------------------------------------------------===//
// ggml blocks and the writer
//===----------------------------------------------------------------------===//

namespace {
std::vector<int32_t> ramp(int32_t first, int64_t count, int32_t period) {
  std::vector<int32_t> codes;
  for (int64_t i = 0; i < count; ++i)
    codes.push_back(first + static_cast<int32_t>(i % period));
  return codes;
}
} // namespace

TEST(GgufTest, KnownTypesAreTheWritersOnes) {
  for (uint32_t known : {0u, 1u, 2u, 3u, 8u})
    EXPECT_TRUE(isKnownGgmlType(known)) << known;
  // Q5_0 (6), Q4_K (12) and an out-of-range number: stored by other
  // writers, named by number only.
  for (uint32_t other : {6u, 12u, 1000u})
    EXPECT_FALSE(isKnownGgmlType(other)) << other;
}

TEST(GgmlBlocksTest, Q8_0HoldsScaleThenSignedCodes) {
  // Codes -16..15; scale 0.5 is fp16 0x3800.
  std::vector<int32_t> codes = ramp(-16, 32, 32);
  auto bytes = encodeGgmlBlocks(GgmlType::Q8_0, codes, {0.5f}, {}, -128);
  ASSERT_TRUE(static_cast<bool>(bytes)) << llvm::toString(bytes.takeError());
  ASSERT_EQ(bytes->size(), 34u);
  EXPECT_EQ((*bytes)[0], 0x00);
  EXPECT_EQ((*bytes)[1], 0x38);
  EXPECT_EQ((*bytes)[2], 0xF0); // -16
  EXPECT_EQ((*bytes)[33], 15);
  auto values = decodeGgmlTensor(GgmlType::Q8_0, *bytes, 32);
  ASSERT_TRUE(static_cast<bool>(values));
  for (int i = 0; i < 32; ++i)
    EXPECT_EQ((*values)[i], 0.5f * static_cast<float>(codes[i]));
}

TEST(GgmlBlocksTest, Q4_0PairsElementJWithJPlus16) {
  // Element j: code j - 8 for j < 16; element j + 16: code 7 - j.
  std::vector<int32_t> codes;
  for (int j = 0; j < 16; ++j)
    codes.push_back(j - 8);
  for (int j = 0; j < 16; ++j)
    codes.push_back(7 - j);
  auto bytes = encodeGgmlBlocks(GgmlType::Q4_0, codes, {0.25f}, {}, -8);
  ASSERT_TRUE(static_cast<bool>(bytes)) << llvm::toString(bytes.takeError());
  ASSERT_EQ(bytes->size(), 18u);
  EXPECT_EQ((*bytes)[0], 0x00); // fp16 0.25 = 0x3400
  EXPECT_EQ((*bytes)[1], 0x34);
  // Byte j: low nibble j (code j - 8, stored j), high nibble 15 - j.
  EXPECT_EQ((*bytes)[2], 0xF0);
  EXPECT_EQ((*bytes)[3], 0xE1);
  EXPECT_EQ((*bytes)[17], 0x0F);
  auto values = decodeGgmlTensor(GgmlType::Q4_0, *bytes, 32);
  ASSERT_TRUE(static_cast<bool>(values));
  for (int i = 0; i < 32; ++i)
    EXPECT_EQ((*values)[i], 0.25f * static_cast<float>(codes[i]));
}

TEST(GgmlBlocksTest, Q4_1CarriesQuarkUint4ZeroPoints) {
  // uint4 codes 0..15 twice, zero point 3, scale 2: d = 2 (0x4000),
  // m = -scale * zero_point = -6 (0xC600).
  std::vector<int32_t> codes = ramp(0, 32, 16);
  auto bytes = encodeGgmlBlocks(GgmlType::Q4_1, codes, {2.0f}, {3}, 0);
  ASSERT_TRUE(static_cast<bool>(bytes)) << llvm::toString(bytes.takeError());
  ASSERT_EQ(bytes->size(), 20u);
  EXPECT_EQ((*bytes)[1], 0x40);
  EXPECT_EQ((*bytes)[2], 0x00);
  EXPECT_EQ((*bytes)[3], 0xC6);
  EXPECT_EQ((*bytes)[4], 0x00); // elements 0 and 16: codes 0 and 0
  EXPECT_EQ((*bytes)[5], 0x11);
  auto values = decodeGgmlTensor(GgmlType::Q4_1, *bytes, 32);
  ASSERT_TRUE(static_cast<bool>(values));
  for (int i = 0; i < 32; ++i)
    EXPECT_EQ((*values)[i], 2.0f * static_cast<float>(codes[i] - 3));
  // Signed int4 with a zero point: nibbles are code + 8.
  std::vector<int32_t> signedCodes = ramp(-8, 32, 16);
  auto shifted =
      encodeGgmlBlocks(GgmlType::Q4_1, signedCodes, {1.0f}, {-2}, -8);
  ASSERT_TRUE(static_cast<bool>(shifted));
  auto decoded = decodeGgmlTensor(GgmlType::Q4_1, *shifted, 32);
  ASSERT_TRUE(static_cast<bool>(decoded));
  for (int i = 0; i < 32; ++i)
    EXPECT_EQ((*decoded)[i], static_cast<float>(signedCodes[i] + 2));
}

TEST(GgmlBlocksTest, CodesOrZeroPointsTheFormatCannotHoldAreErrors) {
  std::vector<int32_t> codes(32, 0);
  codes[5] = 8;
  auto q4 = encodeGgmlBlocks(GgmlType::Q4_0, codes, {1.0f}, {}, -8);
  ASSERT_FALSE(static_cast<bool>(q4));
  EXPECT_EQ(llvm::toString(q4.takeError()),
            "Q4_0 block 0 holds code 8, outside [-8, 7]");
  std::vector<int32_t> zeros(32, 0);
  auto zp = encodeGgmlBlocks(GgmlType::Q8_0, zeros, {1.0f}, {1}, -128);
  ASSERT_FALSE(static_cast<bool>(zp));
  EXPECT_EQ(llvm::toString(zp.takeError()),
            "Q8_0 block 0 has zero point 1; the format is symmetric");
  auto count = encodeGgmlBlocks(GgmlType::Q8_0, zeros, {1.0f, 2.0f}, {}, 0);
  ASSERT_FALSE(static_cast<bool>(count));
  llvm::consumeError(count.takeError());
}

TEST(GgufWriterTest, WritesWhatTheReaderReads) {
  GgufWriter writer;
  writer.set("general.architecture", GgufValue::string("llama"));
  writer.set("llama.block_count", GgufValue::uint32(2));
  writer.set("llama.rope.freq_base", GgufValue::float32(10000.0f));
  writer.set("tokenizer.ggml.tokens",
             GgufValue::array(GgufType::String, {GgufValue::string("<s>"),
                                                 GgufValue::string("a")}));
  writer.set("tokenizer.ggml.add_bos_token", GgufValue::boolean(true));
  writer.set("empty", GgufValue::array(GgufType::Int32, {}));
  std::vector<int32_t> codes = ramp(-8, 64, 16);
  writer.addTensor("w", {32, 2}, GgmlType::Q4_0, [&] {
    return encodeGgmlBlocks(GgmlType::Q4_0, codes, {1.0f, 2.0f}, {}, -8);
  });
  writer.addTensor("norm", {3}, GgmlType::F32, [] {
    return llvm::Expected<std::vector<uint8_t>>(
        encodeGgmlFloats(GgmlType::F32, {1.0f, 2.0f, 3.0f}));
  });
  std::string bytes;
  llvm::raw_string_ostream os(bytes);
  ASSERT_FALSE(static_cast<bool>(writer.write(os)));
  auto file = GgufFile::parse(bytes, "written.gguf");
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  EXPECT_EQ((*file)->version(), 3u);
  EXPECT_EQ(*(*file)->get("general.alignment")->asInt(), 32);
  EXPECT_EQ(*(*file)->get("general.architecture")->asString(), "llama");
  EXPECT_EQ(*(*file)->get("llama.block_count")->asInt(), 2);
  EXPECT_EQ(*(*file)->get("llama.rope.freq_base")->asFloat(), 10000.0);
  EXPECT_EQ(*(*file)->get("tokenizer.ggml.add_bos_token")->asInt(), 1);
  const auto *tokens = (*file)->get("tokenizer.ggml.tokens")->asArray();
  ASSERT_EQ(tokens->size(), 2u);
  EXPECT_EQ(*(*tokens)[1].asString(), "a");
  EXPECT_EQ((*file)->get("empty")->elementType, GgufType::Int32);
  EXPECT_TRUE((*file)->get("empty")->asArray()->empty());
  const auto &infos = (*file)->tensors();
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[0].name, "w");
  EXPECT_EQ(infos[0].ggmlType, static_cast<uint32_t>(GgmlType::Q4_0));
  EXPECT_EQ(infos[0].offset, 0u);
  EXPECT_EQ(infos[1].offset, 64u); // 36 bytes, aligned to 32
  EXPECT_EQ((*file)->dataOffset() % 32, 0u);
  llvm::ArrayRef<uint8_t> data(reinterpret_cast<const uint8_t *>(bytes.data()) +
                                   (*file)->dataOffset(),
                               bytes.size() - (*file)->dataOffset());
  auto weights = decodeGgmlTensor(GgmlType::Q4_0, data.take_front(36), 64);
  ASSERT_TRUE(static_cast<bool>(weights));
  EXPECT_EQ((*weights)[0], -8.0f);
  EXPECT_EQ((*weights)[32], -16.0f);
  auto norm = decodeGgmlTensor(GgmlType::F32, data.slice(64, 12), 3);
  ASSERT_TRUE(static_cast<bool>(norm));
  EXPECT_EQ((*norm)[2], 3.0f);
}

TEST(GgufWriterTest, ProducerErrorsAndWrongSizesNameTheTensor) {
  GgufWriter writer;
  writer.addTensor("bad", {32}, GgmlType::Q8_0, [] {
    return llvm::Expected<std::vector<uint8_t>>(std::vector<uint8_t>(3));
  });
  std::string bytes;
  llvm::raw_string_ostream os(bytes);
  llvm::Error error = writer.write(os);
  ASSERT_TRUE(static_cast<bool>(error));
  EXPECT_EQ(llvm::toString(std::move(error)),
            "tensor 'bad' produced 3 bytes, its Q8_0 shape needs 34");
  GgufWriter rows;
  rows.addTensor("odd", {33}, GgmlType::Q4_0, [] {
    return llvm::Expected<std::vector<uint8_t>>(std::vector<uint8_t>());
  });
  llvm::Error rowError = rows.write(os);
  ASSERT_TRUE(static_cast<bool>(rowError));
  EXPECT_EQ(llvm::toString(std::move(rowError)),
            "tensor 'odd': rows of 33 elements are not whole Q4_0 blocks");
}
