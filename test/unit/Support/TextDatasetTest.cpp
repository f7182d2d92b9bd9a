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
  EXPECT_NE(llvm::toString(empty.takeError()).find("no .txt or .jsonl files"),
            std::string::npos);
}

TEST_F(TextDatasetTest, JsonLinesRecordsAreJoinedLikeFiles) {
  // A pile-val style record carries "meta" too; a JSON "\r" is content.
  write("a.jsonl", "{\"text\": \"first \\u00e9\", \"meta\": {\"x\": 1}}\r\n"
                   "\n"
                   "{\"text\": \"line\\r\\nbreak\"}\n");
  write("b.txt", "plain");
  auto dataset = readTextDataset(dir);
  ASSERT_TRUE(bool(dataset)) << llvm::toString(dataset.takeError());
  EXPECT_EQ(dataset->text, "first \xC3\xA9\n\nline\r\nbreak\n\nplain");
  EXPECT_EQ(dataset->files.size(), 2u);
}

TEST_F(TextDatasetTest, JsonLinesErrorsNameFileAndLine) {
  auto expectError = [&](llvm::StringRef contents, llvm::StringRef what) {
    auto dataset = readTextDataset(write("d.jsonl", contents));
    ASSERT_FALSE(bool(dataset));
    std::string message = llvm::toString(dataset.takeError());
    EXPECT_NE(message.find(what), std::string::npos) << message;
  };
  expectError("{\"text\": \"ok\"}\n{\"text\": \"unterminated\n",
              "d.jsonl:2: invalid JSON");
  expectError("{\"text\": \"ok\"}\n[1, 2]\n", "d.jsonl:2: a record must be");
  expectError("{\"content\": \"x\"}\n", "d.jsonl:1: the record has no string");
  expectError("{\"text\": 3}\n", "d.jsonl:1: the record has no string");
  expectError("\n\n", "d.jsonl: no records");
}

} // namespace
