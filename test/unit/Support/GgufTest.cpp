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
