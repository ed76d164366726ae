#include <gtest/gtest.h>

#include <fstream>

#include "core/config.h"
#include "core/mpi.h"

using deepvox::Config;
using deepvox::ConfigError;

TEST(Config, DefaultsComeFromTheSchema) {
  Config c;
  EXPECT_EQ(c.str("run_dir"), "runs/demo");
  EXPECT_EQ(c.integer("extract.batch_size"), 16);
  EXPECT_FALSE(c.has("extract.layers"));
  EXPECT_TRUE(c.strings("extract.layers").empty());
}

TEST(Config, UnknownKeyIsNamed) {
  Config c;
  try {
    c.set("extract.bacth_size", "3");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("extract.bacth_size"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("extract.batch_size"), std::string::npos) << "lists the known keys";
  }
}

TEST(Config, KindIsChecked) {
  Config c;
  EXPECT_THROW(c.set("extract.batch_size", "many"), ConfigError);
  EXPECT_THROW(c.set("extract.layers", "{a: 1}"), ConfigError);
  c.set("extract.layers", "[mixed2, mixed5]");
  EXPECT_EQ(c.strings("extract.layers"), (std::vector<std::string>{"mixed2", "mixed5"}));
  c.set("extract.layers", "mixed7");  // one value is a one-element list
  EXPECT_EQ(c.strings("extract.layers"), (std::vector<std::string>{"mixed7"}));
}

TEST(Config, FileThenOverridesAndNestedKeysOfAnyDepth) {
  std::string path = ::testing::TempDir() + "/deepvox_cfg.yaml";
  {
    std::ofstream f(path);
    f << "run_dir: /tmp/x\nextract:\n  batch_size: 4\n  layers: [mixed0]\ndebug:\n  fail_on_rank: 2\n";
  }
  Config c = Config::load(path, {"extract.batch_size=8", "run_dir=/tmp/y"});
  EXPECT_EQ(c.integer("extract.batch_size"), 8);
  EXPECT_EQ(c.str("run_dir"), "/tmp/y");
  EXPECT_EQ(c.integer("debug.fail_on_rank"), 2);
  EXPECT_EQ(c.run_file("features"), "/tmp/y/features.h5");
  // The resolved YAML reloads to the same values.
  std::string again = ::testing::TempDir() + "/deepvox_cfg2.yaml";
  std::ofstream(again) << c.to_yaml();
  Config d = Config::load(again, {});
  EXPECT_EQ(d.to_yaml(), c.to_yaml());
}

TEST(Config, BadFileKeyNamesKeyAndFile) {
  std::string path = ::testing::TempDir() + "/deepvox_bad.yaml";
  std::ofstream(path) << "extract:\n  netwrok: alexnet\n";
  try {
    Config::load(path, {});
    FAIL();
  } catch (const ConfigError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("extract.netwrok"), std::string::npos) << m;
    EXPECT_NE(m.find(path), std::string::npos) << m;
  }
  EXPECT_THROW(Config::load("/nonexistent.yaml", {}), ConfigError);
  EXPECT_THROW(Config::load("", {"novalue"}), ConfigError);
}

TEST(Sharding, BlockRangeCoversEverythingOnce) {
  for (int p : {1, 2, 3, 4, 7}) {
    for (std::int64_t n : {0, 1, 5, 100, 101}) {
      std::int64_t next = 0;
      for (int r = 0; r < p; ++r) {
        auto rg = deepvox::block_range(n, r, p);
        EXPECT_EQ(rg.begin, next);
        EXPECT_LE(rg.size(), n / p + 1);
        next = rg.end;
      }
      EXPECT_EQ(next, n);
    }
  }
}

TEST(Sharding, ChunksDependOnDataNotRanks) {
  auto c = deepvox::chunks(10, 4);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[2].begin, 8);
  EXPECT_EQ(c[2].end, 10);
  std::vector<int> owner(7, -1);
  for (int r = 0; r < 3; ++r)
    for (auto i : deepvox::my_chunks(7, r, 3)) {
      EXPECT_EQ(owner[static_cast<size_t>(i)], -1);
      owner[static_cast<size_t>(i)] = r;
    }
  for (int o : owner) EXPECT_GE(o, 0);
}
