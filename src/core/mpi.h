// MPI lifetime, rank helpers and rank-count-independent work splitting.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace deepvox {

// Initializes MPI (funneled threads: only the main thread calls MPI) and finalizes it.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
};

int rank(MPI_Comm comm = MPI_COMM_WORLD);
int size(MPI_Comm comm = MPI_COMM_WORLD);
bool is_root(MPI_Comm comm = MPI_COMM_WORLD);
std::string host_name();
// Collective: true on every rank iff all ranks of comm share one node (one shared-memory domain).
bool one_node(MPI_Comm comm = MPI_COMM_WORLD);

// Half-open range [begin, end).
struct Range {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return end - begin; }
};

// Contiguous block of n items owned by rank r of p (the first n % p ranks get one more).
Range block_range(std::int64_t n, int r, int p);

// Global chunks fixed by the data, never by the rank count: [0,n) cut into pieces of chunk_size.
std::vector<Range> chunks(std::int64_t n, std::int64_t chunk_size);
// The chunk indices rank r of p takes (round robin, so work spreads evenly).
std::vector<std::int64_t> my_chunks(std::int64_t n_chunks, int r, int p);

// True on every rank iff ok is true on every rank (a collective error check).
bool all_ok(bool ok, MPI_Comm comm = MPI_COMM_WORLD);

}  // namespace deepvox
