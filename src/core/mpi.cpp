#include "core/mpi.h"

#include <unistd.h>

#include <stdexcept>

namespace deepvox {

MpiSession::MpiSession(int* argc, char*** argv) {
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  // Errors on communicators return codes instead of aborting silently inside MPI.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

int rank(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}
int size(MPI_Comm comm) {
  int s = 1;
  MPI_Comm_size(comm, &s);
  return s;
}
bool is_root(MPI_Comm comm) { return rank(comm) == 0; }

bool one_node(MPI_Comm comm) {
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int node_size = 0;
  MPI_Comm_size(node, &node_size);
  MPI_Comm_free(&node);
  int all = node_size == size(comm) ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_MIN, comm);
  return all == 1;
}

std::string host_name() {
  char buf[MPI_MAX_PROCESSOR_NAME] = {0};
  int len = 0;
  MPI_Get_processor_name(buf, &len);
  return std::string(buf, static_cast<size_t>(len));
}

Range block_range(std::int64_t n, int r, int p) {
  if (p <= 0 || r < 0 || r >= p) throw std::invalid_argument("block_range: bad rank/size");
  std::int64_t base = n / p, extra = n % p;
  std::int64_t begin = r * base + std::min<std::int64_t>(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

std::vector<Range> chunks(std::int64_t n, std::int64_t chunk_size) {
  if (chunk_size <= 0) throw std::invalid_argument("chunks: chunk size must be positive");
  std::vector<Range> out;
  for (std::int64_t b = 0; b < n; b += chunk_size) out.push_back({b, std::min(n, b + chunk_size)});
  return out;
}

std::vector<std::int64_t> my_chunks(std::int64_t n_chunks, int r, int p) {
  std::vector<std::int64_t> out;
  for (std::int64_t c = r; c < n_chunks; c += p) out.push_back(c);
  return out;
}

bool all_ok(bool ok, MPI_Comm comm) {
  int local = ok ? 1 : 0, global = 0;
  MPI_Allreduce(&local, &global, 1, MPI_INT, MPI_MIN, comm);
  return global == 1;
}

}  // namespace deepvox
