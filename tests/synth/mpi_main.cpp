// GoogleTest main for the synth/decode MPI tests (also fine at 1 rank): argv[1] = the planted fixture,
// argv[2] = this run's work folder. Only rank 0 prints test results, and a
// failure on any rank fails every rank's exit code.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>

#include "core/log.h"
#include "planted.h"

namespace deepvox::testing {
std::string g_fixture, g_work;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s FIXTURE_DIR WORK_DIR [gtest flags]\n", argv[0]);
    MPI_Finalize();
    return 2;
  }
  deepvox::testing::g_fixture = argv[1];
  deepvox::testing::g_work = argv[2];
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  deepvox::log::init(rank, ranks);  // stage logs from rank 0 only, as in the deepvox binary
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int result = RUN_ALL_TESTS();
  int worst = 0;
  MPI_Allreduce(&result, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
