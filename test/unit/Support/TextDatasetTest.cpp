//===- TextDatasetTest.cpp - Reading evaluation text like Python does -----===//

#include "quark/Support/TextDataset.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

using namespace mlir::quark;

namespace {

class TextDatasetTest : public testing::Test {
protected:
  void SetUp() override {
    llvm::SmallString<128> path;
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("quark-text", path));
    dir = path.str().str();
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }
  std::string write(llvm::StringRef name, llvm::StringRef contents) {
    llvm::SmallString<128> path(dir);
    llvm::sys::path::append(path, name);
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    EXPECT_FALSE(ec);
    os << contents;
    return path.str().str();
  }
  std::string dir;
};

TEST_F(TextDatasetTest, UniversalNewlines) {
  auto dataset =
      readTextDataset(write("a.txt", "one\r\ntwo\rthree\n\xEF\xBB\xBF"));
  ASSERT_TRUE(bool(dataset)) << llvm::toString(dataset.takeError());
  // \r\n and \r become \n; a BOM is text, as Python keeps it.
  EXPECT_EQ(dataset->text, "one\ntwo\nthree\n\xEF\xBB\xBF");
}

TEST_F(TextDatasetTest, FolderJoinsTxtFilesInNameOrder) {
  write("b.txt", "second");
  write("a.txt", "first\n");
  write("notes.md", "ignored");
  auto dataset = readTextDataset(dir);
  ASSERT_TRUE(bool(dataset)) << llvm::toString(dataset.takeError());
  EXPECT_EQ(dataset->text, "first\n\n\nsecond");
  ASSERT_EQ(dataset->files.size(), 2u);
  EXPECT_EQ(llvm::sys::path::filename(dataset->files[0]), "a.txt");
}

TEST_F(TextDatasetTest, ErrorsNameTheFile) {
  std::string bad = write("bad.txt", "ok\xC3(");
  auto dataset = readTextDataset(bad);
  ASSERT_FALSE(bool(dataset));
  std::string message = llvm::toString(dataset.takeError());
  EXPECT_NE(message.find("bad.txt: invalid UTF-8 at byte 2"), std::string::npos)
      << message;

  auto missing = readTextDataset(dir + "/nope.txt");
  ASSERT_FALSE(bool(missing));
  EXPECT_NE(llvm::toString(missing.takeError()).find("no such file or folder"),
            std::string::npos);

  ASSERT_FALSE(llvm::sys::fs::create_directory(dir + "/docs"));
  write("docs/x.md", "no text files here");
  auto empty = readTextDataset(dir + "/docs");
  ASSERT_FALSE(bool(empty));
  EXPECT_NE(llvm::toString(empty.takeError()).find("no .txt files"),
            std::string::npos);
}

} // namespace
