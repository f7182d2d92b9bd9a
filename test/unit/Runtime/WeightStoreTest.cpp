//===- WeightStoreTest.cpp - Parallel reads of a fresh WeightStore --------===//

#include "quark/Runtime/WeightStore.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include "gtest/gtest.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace mlir::quark;

namespace {

// Passes stream one weight in parallel row chunks through a WeightStore of
// their own, so the first reads of a checkpoint come from several threads
// at once: each must see the same opened file (two threads opening it and
// one replacing the other's entry freed a mapping still being read, a
// crash once in ~20 NVFP4 quantize runs).
TEST(WeightStore, ParallelFirstReadsShareOneOpenedFile) {
  llvm::SmallString<128> dir;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("quark-ws", dir));
  llvm::SmallString<128> path(dir);
  llvm::sys::path::append(path, "model.safetensors");
  constexpr int64_t kRows = 64, kCols = 256;
  std::vector<float> values(kRows * kCols);
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = static_cast<float>(i % 1000) - 500.0f;
  {
    auto writer = SafetensorsWriter::create(
        path.str().str(), {{"w", TensorDType::F32, {kRows, kCols}}});
    ASSERT_TRUE(static_cast<bool>(writer))
        << llvm::toString(writer.takeError());
    ASSERT_FALSE(static_cast<bool>(
        (*writer)->write("w", {reinterpret_cast<const uint8_t *>(values.data()),
                               values.size() * sizeof(float)})));
    ASSERT_FALSE(static_cast<bool>((*writer)->finish()));
  }

  constexpr int kThreads = 8;
  constexpr int64_t kRowsPerThread = kRows / kThreads;
  std::atomic<int> mismatches{0};
  for (int round = 0; round < 200; ++round) {
    WeightStore store(dir.str().str());
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < kThreads)
          std::this_thread::yield();
        int64_t begin = t * kRowsPerThread;
        std::vector<float> out(kRowsPerThread * kCols);
        if (llvm::Error error =
                store.readRows("w", "", begin, begin + kRowsPerThread, out)) {
          llvm::consumeError(std::move(error));
          mismatches.fetch_add(1);
          return;
        }
        if (!std::equal(out.begin(), out.end(), values.begin() + begin * kCols))
          mismatches.fetch_add(1);
      });
    for (std::thread &thread : threads)
      thread.join();
  }
  EXPECT_EQ(mismatches.load(), 0);
  llvm::sys::fs::remove_directories(dir);
}

} // namespace
