#include "synth/gather.h"

#include <limits>
#include <stdexcept>

namespace deepvox::synth {

std::vector<Bytes> allgather_chunks(const std::vector<std::pair<std::int64_t, Bytes>>& mine,
                                    std::int64_t n_chunks, MPI_Comm comm) {
  int ranks = 1;
  MPI_Comm_size(comm, &ranks);
  // Header per rank: (chunk, size) pairs; then one byte stream per rank.
  std::vector<std::int64_t> header;
  Bytes stream;
  for (const auto& [chunk, payload] : mine) {
    header.push_back(chunk);
    header.push_back(static_cast<std::int64_t>(payload.size()));
    stream.insert(stream.end(), payload.begin(), payload.end());
  }
  if (stream.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw std::runtime_error("allgather_chunks: more than 2 GiB of results on one rank");
  int my_header = static_cast<int>(header.size()), my_bytes = static_cast<int>(stream.size());
  std::vector<int> header_counts(ranks), byte_counts(ranks);
  MPI_Allgather(&my_header, 1, MPI_INT, header_counts.data(), 1, MPI_INT, comm);
  MPI_Allgather(&my_bytes, 1, MPI_INT, byte_counts.data(), 1, MPI_INT, comm);
  std::vector<int> header_displs(ranks, 0), byte_displs(ranks, 0);
  long long total_header = 0, total_bytes = 0;
  for (int r = 0; r < ranks; ++r) {
    header_displs[r] = static_cast<int>(total_header);
    byte_displs[r] = static_cast<int>(total_bytes);
    total_header += header_counts[r];
    total_bytes += byte_counts[r];
  }
  if (total_bytes > std::numeric_limits<int>::max())
    throw std::runtime_error("allgather_chunks: more than 2 GiB of results in total");
  std::vector<std::int64_t> all_header(static_cast<size_t>(total_header));
  Bytes all_bytes(static_cast<size_t>(total_bytes));
  MPI_Allgatherv(header.data(), my_header, MPI_INT64_T, all_header.data(), header_counts.data(),
                 header_displs.data(), MPI_INT64_T, comm);
  MPI_Allgatherv(stream.data(), my_bytes, MPI_BYTE, all_bytes.data(), byte_counts.data(), byte_displs.data(),
                 MPI_BYTE, comm);
  std::vector<Bytes> out(static_cast<size_t>(n_chunks));
  size_t pos = 0;
  for (size_t h = 0; h + 1 < all_header.size(); h += 2) {
    const auto chunk = all_header[h];
    const auto n = static_cast<size_t>(all_header[h + 1]);
    if (chunk < 0 || chunk >= n_chunks)
      throw std::runtime_error("allgather_chunks: chunk index out of range");
    out[static_cast<size_t>(chunk)].assign(all_bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                                           all_bytes.begin() + static_cast<std::ptrdiff_t>(pos + n));
    pos += n;
  }
  return out;
}

}  // namespace deepvox::synth
