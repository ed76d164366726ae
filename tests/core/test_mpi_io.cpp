// Collective parallel-HDF5 I/O at any rank count must equal a serial write of the same data.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "core/config.h"
#include "core/mpi.h"
#include "core/progress.h"
#include "core/run_file.h"
#include "io/h5.h"

namespace h5 = deepvox::h5;

namespace {
// Deterministic test data: value depends only on (row, col).
float value(std::int64_t r, std::int64_t c) { return static_cast<float>(r * 1000 + c) * 0.001f - 3.25f; }

std::string shared_tmp(const std::string& name) {
  // Rank 0 names it; every rank uses the same path.
  std::string dir = ::testing::TempDir();
  return dir + "/" + name + "_np" + std::to_string(deepvox::size());
}
}  // namespace

TEST(MpiIo, CollectiveRowAndColumnBlocksEqualSerialWrite) {
  const std::int64_t rows = 37, cols = 11;
  std::string par = shared_tmp("par.h5"), ser = shared_tmp("ser.h5");
  int r = deepvox::rank(), p = deepvox::size();
  {
    auto f = h5::File::open(par, h5::Mode::Create, MPI_COMM_WORLD);
    // Rows by block range (extract's layout).
    auto d = f.create_dataset<float>("by_rows", {rows, cols});
    auto mine = deepvox::block_range(rows, r, p);
    std::vector<float> buf(static_cast<size_t>(mine.size() * cols));
    for (std::int64_t i = 0; i < mine.size(); ++i)
      for (std::int64_t c = 0; c < cols; ++c) buf[static_cast<size_t>(i * cols + c)] = value(mine.begin + i, c);
    d.write_block<float>({mine.begin, mine.size(), 0, cols}, buf.data());
    // Columns by chunks (fit's voxel layout), several chunks per rank.
    auto e = f.create_dataset<float>("by_cols", {rows, cols});
    auto ch = deepvox::chunks(cols, 3);
    auto my = deepvox::my_chunks(static_cast<std::int64_t>(ch.size()), r, p);
    // Collective calls must match in number across ranks: pad with empty blocks.
    std::int64_t max_n = static_cast<std::int64_t>(my.size());
    MPI_Allreduce(MPI_IN_PLACE, &max_n, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
    for (std::int64_t k = 0; k < max_n; ++k) {
      if (k < static_cast<std::int64_t>(my.size())) {
        auto rg = ch[static_cast<size_t>(my[static_cast<size_t>(k)])];
        std::vector<float> cb(static_cast<size_t>(rows * rg.size()));
        for (std::int64_t i = 0; i < rows; ++i)
          for (std::int64_t c = 0; c < rg.size(); ++c) cb[static_cast<size_t>(i * rg.size() + c)] = value(i, rg.begin + c);
        e.write_block<float>({0, rows, rg.begin, rg.size()}, cb.data());
      } else {
        e.write_block<float>({0, 0, 0, 0}, nullptr);
      }
    }
    f.write_strings("ids", {"a", "bb", "ccc"});
    f.write_attr("stage", "test");
    f.close();
  }
  if (deepvox::is_root()) {
    auto f = h5::File::open(ser, h5::Mode::Create);
    std::vector<float> all(static_cast<size_t>(rows * cols));
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t c = 0; c < cols; ++c) all[static_cast<size_t>(i * cols + c)] = value(i, c);
    f.write_array<float>("by_rows", all, {rows, cols});
    f.write_array<float>("by_cols", all, {rows, cols});
    f.close();
    auto a = h5::File::open(par, h5::Mode::Read), b = h5::File::open(ser, h5::Mode::Read);
    for (const char* name : {"by_rows", "by_cols"}) {
      auto x = a.dataset(name).read_all<float>(), y = b.dataset(name).read_all<float>();
      ASSERT_EQ(x.size(), y.size());
      EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0) << name << " differs at np=" << p;
    }
    EXPECT_EQ(a.dataset("ids").read_strings(), (std::vector<std::string>{"a", "bb", "ccc"}));
  }
  // Every rank reads its own block back collectively.
  auto f = h5::File::open(par, h5::Mode::Read, MPI_COMM_WORLD);
  auto mine = deepvox::block_range(rows, r, p);
  auto back = f.dataset("by_rows").read_rows<float>(mine.begin, mine.size());
  for (std::int64_t i = 0; i < mine.size(); ++i) EXPECT_EQ(back[static_cast<size_t>(i * cols + 2)], value(mine.begin + i, 2));
}

TEST(MpiIo, RunFileIsRenamedOnlyOnCommit) {
  deepvox::Config cfg;
  std::string dir = shared_tmp("runfile");
  cfg.set("run_dir", dir);
  if (deepvox::is_root()) std::filesystem::remove_all(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  {
    deepvox::RunFile out(cfg, "features", MPI_COMM_WORLD);
    out.file().write_vector<std::int64_t>("x", {1, 2, 3});
    MPI_Barrier(MPI_COMM_WORLD);
    EXPECT_TRUE(std::filesystem::exists(dir + "/features.h5.partial"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/features.h5"));
    out.commit();
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/features.h5"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/features.h5.partial"));
  auto f = h5::File::open(dir + "/features.h5", h5::Mode::Read);
  EXPECT_EQ(f.read_attr<std::int64_t>("mpi_ranks"), deepvox::size());
  EXPECT_EQ(f.read_attr_string("stage"), "features");
  for (const char* a : {"deepvox_version", "command_line", "config", "created_utc"}) EXPECT_TRUE(f.has_attr(a)) << a;
}

TEST(MpiIo, ProgressCountsEveryRank) {
  deepvox::set_progress_mode(deepvox::ProgressMode::Always);
  deepvox::Progress prog("test items", 10 * deepvox::size());
  for (int i = 0; i < 10; ++i) prog.add(1);
}
