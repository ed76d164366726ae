// Unit tests of the import pieces against files written by numpy and by an independent NIfTI writer
// (tests/import/make_fixtures.py), and of the writer's arithmetic against closed forms.
// Usage: test_import_units FIXTURE_DIR (run under mpiexec; the writer tests are collective).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>
#include <filesystem>
#include <regex>
#include <set>

#include "core/config.h"
#include "core/log.h"
#include "import/nifti.h"
#include "import/npy.h"
#include "import/readers.h"
#include "import/responses_writer.h"
#include "io/h5.h"

namespace fs = std::filesystem;
using namespace deepvox;
using namespace deepvox::import;

std::string g_fixtures;

// ---------------- NPY ----------------
TEST(Npy, EveryVersionByteOrderTypeAndMemoryOrder) {
  std::regex re(R"(v(\d)_(le|be)_([fiub]\d)_(C|F)_([0-9x]+|scalar)\.npy)");
  int checked = 0;
  for (const auto& e : fs::directory_iterator(g_fixtures + "/npy")) {
    std::smatch m;
    std::string name = e.path().filename().string();
    if (!std::regex_match(name, m, re)) continue;
    const std::string code = m[3];
    npy::Header h;
    auto values = npy::read<double>(e.path().string(), &h);
    EXPECT_EQ(h.major_version, std::stoi(m[1])) << name;
    EXPECT_EQ(h.fortran_order, m[4] == "F" && h.shape.size() > 1) << name;  // numpy writes 0-d/1-d as C
    std::int64_t n = 1;
    for (auto d : h.shape) n *= d;
    ASSERT_EQ(static_cast<std::int64_t>(values.size()), n) << name;
    for (std::int64_t c = 0; c < n; ++c) {
      double want = code[0] == 'f'   ? c * 0.5 - 3.0
                    : code[0] == 'i' ? c - 5.0
                    : code[0] == 'u' ? c + 200.0
                                     : (c % 3 == 0);
      if (code == "u1") want = static_cast<double>(static_cast<std::uint8_t>(c + 200));
      if (code == "i1") want = static_cast<double>(static_cast<std::int8_t>(c - 5));
      ASSERT_EQ(values[static_cast<size_t>(c)], want) << name << " element " << c;
    }
    if (code == "i8" || code == "u8") {
      auto ints = npy::read<std::int64_t>(e.path().string());
      EXPECT_EQ(ints.back(), code == "i8" ? n - 6 : n + 199) << name;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 3 * 2 * 11 * 2 * 3);
}

TEST(Npy, RefusesPickledObjectsNamingTheFile) {
  try {
    npy::read<float>(g_fixtures + "/npy/object.npy");
    FAIL() << "an object array was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("object.npy"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("object arrays"), std::string::npos) << e.what();
  }
  EXPECT_THROW(npy::read<float>(g_fixtures + "/npy/missing.npy"), std::runtime_error);
}

// ---------------- NIfTI ----------------
TEST(Nifti, Nifti1GzipWithScalingAndNifti2) {
  Volume v = read_nifti(g_fixtures + "/nifti/scaled.nii.gz");
  ASSERT_EQ(v.nx, 3);
  ASSERT_EQ(v.ny, 4);
  ASSERT_EQ(v.nz, 5);
  ASSERT_EQ(v.nt, 2);
  for (std::int64_t t = 0; t < 2; ++t)
    for (std::int64_t k = 0; k < 5; ++k)
      for (std::int64_t j = 0; j < 4; ++j)
        for (std::int64_t i = 0; i < 3; ++i)
          ASSERT_EQ(v.data[static_cast<size_t>(((t * 5 + k) * 4 + j) * 3 + i)],
                    2.0f * (i + 10 * j + 100 * k + 1000 * t) + 1.0f);
  ASSERT_TRUE(v.has_affine);
  EXPECT_FLOAT_EQ(v.affine[0], -1.8f);
  EXPECT_FLOAT_EQ(v.affine[3], 90.0f);
  EXPECT_FLOAT_EQ(v.affine[7], -120.0f);
  EXPECT_EQ(v.affine[15], 1.0);

  Volume w = read_nifti(g_fixtures + "/nifti/plain2.nii");
  ASSERT_EQ(w.nt, 1);
  EXPECT_EQ(w.data[static_cast<size_t>((4 * 4 + 3) * 3 + 2)], 0.5f * (2 + 30 + 400));
  Volume f = read_nifti(g_fixtures + "/nifti/float.nii");
  EXPECT_EQ(f.data.back(), 2.0f + 30.0f + 400.0f + 1000.0f);
}

TEST(Nifti, BadFilesNameTheFile) {
  for (const char* name : {"truncated.nii.gz", "nope.nii.gz"}) {
    try {
      read_nifti(g_fixtures + "/nifti/" + name);
      FAIL() << name << " was read";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

// ---------------- writer arithmetic ----------------
TEST(Writer, SessionZscoreMatchesClosedFormAndFlagsBadVoxels) {
  // 6 trials x 4 voxels, sessions {0,0,0,1,1,1}. Voxel 0: 1,2,3 | 10,20,30; voxel 1 has a NaN;
  // voxel 2 is constant over all trials; voxel 3 is constant within session 1 only.
  const float nan = std::nanf("");
  std::vector<float> x = {1, 5, 7, 1, 2, nan, 7, 2, 3, 6, 7, 3, 10, 1, 7, 4, 20, 2, 7, 4, 30, 3, 7, 4};
  std::vector<std::int64_t> ses = {0, 0, 0, 1, 1, 1};
  Cleaned c = clean_trials(x, 4, ses, true);
  EXPECT_EQ(c.valid, (std::vector<std::uint8_t>{1, 0, 0, 0}));
  EXPECT_EQ(c.nonfinite_values, 1);
  const float z = std::sqrt(1.5f);  // (x - mean) / std with ddof 0 for 1,2,3: -1.2247, 0, 1.2247
  EXPECT_NEAR(x[0], -z, 1e-6);
  EXPECT_NEAR(x[4], 0.0f, 1e-6);
  EXPECT_NEAR(x[8], z, 1e-6);
  EXPECT_NEAR(x[12], -z, 1e-6);
  EXPECT_NEAR(x[20], z, 1e-6);
  EXPECT_EQ(x[5], 0.0f);           // the NaN became the session mean (0), never NaN
  EXPECT_NEAR(x[1], -1.0f, 1e-6);  // voxel 1 session 0: 5, 6 (NaN skipped): mean 5.5, std 0.5
  EXPECT_EQ(x[2], 0.0f);           // constant voxel: zeros
  EXPECT_EQ(x[15], 0.0f);          // voxel 3 in its constant session
  for (float v : x) EXPECT_TRUE(std::isfinite(v));
}

TEST(Writer, SeededSplitKeepsGroupsAndCoversCategories) {
  const std::int64_t S = 200;
  std::vector<std::int64_t> cat(S), group(S);
  for (std::int64_t s = 0; s < S; ++s) {
    cat[static_cast<size_t>(s)] = s % 8;
    group[static_cast<size_t>(s)] = s % 8 + 8 * ((s / 8) / 2);  // pairs of same-category stimuli
  }
  std::vector<std::int64_t> train, test, train2, test2;
  seeded_split(S, cat, group, 0.2, 7, train, test);
  seeded_split(S, cat, group, 0.2, 7, train2, test2);
  EXPECT_EQ(train, train2);
  EXPECT_EQ(test, test2);
  EXPECT_EQ(static_cast<std::int64_t>(train.size() + test.size()), S);
  std::set<std::int64_t> test_set(test.begin(), test.end()), cats;
  for (auto s : test) cats.insert(cat[static_cast<size_t>(s)]);
  EXPECT_EQ(cats.size(), 8u);  // every category appears in the test set
  for (std::int64_t s = 0; s < S; ++s)
    for (std::int64_t u = 0; u < S; ++u)
      if (group[static_cast<size_t>(s)] == group[static_cast<size_t>(u)])
        ASSERT_EQ(test_set.count(s), test_set.count(u)) << "group split across train and test";
  EXPECT_NEAR(static_cast<double>(test.size()) / S, 0.2, 0.05);
  // Groups stay adjacent in /split/train, so contiguous folds never cut one.
  for (size_t i = 1; i + 1 < train.size(); ++i)
    if (group[static_cast<size_t>(train[i - 1])] != group[static_cast<size_t>(train[i])])
      for (size_t j = i; j < train.size(); ++j)
        ASSERT_NE(group[static_cast<size_t>(train[j])], group[static_cast<size_t>(train[i - 1])]);
  seeded_split(S, cat, group, 0.2, 8, train2, test2);
  EXPECT_NE(test, test2);  // the seed matters
}

TEST(Writer, DuplicateIdsAndShapeMismatchesAreClearErrors) {
  Config cfg;
  cfg.set("run_dir", (fs::temp_directory_path() / "deepvox_import_units").string());
  FmriDataset ds;
  ds.format = "generic";
  ds.source = "my_source.h5";
  ds.stimulus_ids = {"a", "b", "a"};
  ds.n_voxels = 2;
  ds.trial_stimulus = {0, 1, 2};
  ds.trial_responses = {1, 2, 3, 4, 5, 6};
  try {
    write_responses(ds, cfg, MPI_COMM_WORLD);
    FAIL() << "duplicate ids were accepted";
  } catch (const ImportError& e) {
    EXPECT_NE(std::string(e.what()).find("duplicate stimulus id 'a'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("my_source.h5"), std::string::npos) << e.what();
  }
  ds.stimulus_ids = {"a", "b", "c"};
  ds.trial_responses.pop_back();
  try {
    write_responses(ds, cfg, MPI_COMM_WORLD);
    FAIL() << "a short response matrix was accepted";
  } catch (const ImportError& e) {
    EXPECT_NE(std::string(e.what()).find("expected 3 trials x 2 voxels"), std::string::npos) << e.what();
  }
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  deepvox::log::init(rank, 1, "warn");
  if (argc > 1) g_fixtures = argv[1];
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int result = RUN_ALL_TESTS(), worst = 0;
  MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
