//===- JsonTest.cpp - Python-compatible JSON output -----------------------===//
//
// Expected texts are what CPython 3.11 prints: repr(float) and
// json.dumps(value, indent=2, sort_keys=True).
//
//===----------------------------------------------------------------------===//

#include "quark/Support/Json.h"

#include "gtest/gtest.h"

#include <limits>

using namespace mlir::quark;

namespace {

TEST(PythonJsonTest, FloatsPrintAsPythonRepr) {
  const std::pair<double, const char *> cases[] = {
      {10000.0, "10000.0"},
      {1e-05, "1e-05"},
      {0.1, "0.1"},
      {1e16, "1e+16"},
      {1.5e-07, "1.5e-07"},
      {123456789.123, "123456789.123"},
      {0.0001, "0.0001"},
      {1.0 / 3.0, "0.3333333333333333"},
      {-0.5, "-0.5"},
      {1e22, "1e+22"},
      {5e-324, "5e-324"},
      {std::numeric_limits<double>::max(), "1.7976931348623157e+308"},
      {0.0, "0.0"},
      {9999999999999998.0, "9999999999999998.0"},
      {0.00012, "0.00012"},
  };
  for (const auto &[value, text] : cases)
    EXPECT_EQ(pythonFloatRepr(value), text) << text;
}

TEST(PythonJsonTest, DocumentsPrintAsJsonDumpsIndent2SortKeys) {
  llvm::json::Object object{
      {"b", llvm::json::Array{1, 2.0, llvm::json::Object{}}},
      {"a", "caf\xc3\xa9 \xf0\x9f\x98\x80"},
      {"c", llvm::json::Array{}},
      {"d", nullptr},
      {"e", true},
      {"f", -3},
  };
  std::string text;
  llvm::raw_string_ostream os(text);
  printPythonJson(os, llvm::json::Value(std::move(object)));
  EXPECT_EQ(text, "{\n"
                  "  \"a\": \"caf\\u00e9 \\ud83d\\ude00\",\n"
                  "  \"b\": [\n"
                  "    1,\n"
                  "    2.0,\n"
                  "    {}\n"
                  "  ],\n"
                  "  \"c\": [],\n"
                  "  \"d\": null,\n"
                  "  \"e\": true,\n"
                  "  \"f\": -3\n"
                  "}");
}

TEST(PythonJsonTest, ParsedFloatsKeepTheirType) {
  // What a config.json round trip needs: 10000.0 stays a float, 2048 an
  // integer.
  auto value = parseJson(R"({"rope_theta": 10000.0, "vocab_size": 2048,
                             "rms_norm_eps": 1e-05})");
  ASSERT_TRUE(static_cast<bool>(value)) << llvm::toString(value.takeError());
  std::string text;
  llvm::raw_string_ostream os(text);
  printPythonJson(os, *value);
  EXPECT_EQ(text, "{\n  \"rms_norm_eps\": 1e-05,\n  \"rope_theta\": 10000.0,\n"
                  "  \"vocab_size\": 2048\n}");
}

} // namespace
