// Work on items [0, n) cut into global chunks (core/mpi.h: chunks + my_chunks), and the gather that
// puts every rank's results back in item order, so the result never depends on the rank count.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "core/mpi.h"

namespace deepvox::import {

// The items this rank owns, in the order it processes them (its chunks, ascending).
inline std::vector<std::int64_t> my_items(std::int64_t n, std::int64_t chunk_size, MPI_Comm comm) {
  const auto ranges = chunks(n, chunk_size);
  std::vector<std::int64_t> out;
  for (std::int64_t c : my_chunks(static_cast<std::int64_t>(ranges.size()), rank(comm), size(comm))) {
    for (std::int64_t i = ranges[c].begin; i < ranges[c].end; ++i) out.push_back(i);
  }
  return out;
}

// local: this rank's items in my_items() order, `per_item` values each. Returns all n items in item
// order on every rank (to_all) or on rank 0 only (others get an empty vector).
template <typename T>
std::vector<T> gather_items(const std::vector<T>& local, std::int64_t n, std::int64_t chunk_size,
                            std::int64_t per_item, MPI_Comm comm, bool to_all) {
  static_assert(std::is_trivially_copyable<T>::value, "gather_items needs plain values");
  const int p = size(comm), r = rank(comm);
  std::vector<int> counts(p), displs(p);
  std::vector<std::vector<std::int64_t>> owned(p);
  std::int64_t total = 0;
  const auto ranges = chunks(n, chunk_size);
  for (int q = 0; q < p; ++q) {
    for (std::int64_t c : my_chunks(static_cast<std::int64_t>(ranges.size()), q, p)) {
      for (std::int64_t i = ranges[c].begin; i < ranges[c].end; ++i) owned[q].push_back(i);
    }
    const std::int64_t bytes = static_cast<std::int64_t>(owned[q].size()) * per_item * sizeof(T);
    if (bytes > 0x7fffffff) throw std::runtime_error("gather_items: more than 2 GiB from one rank");
    counts[q] = static_cast<int>(bytes);
    displs[q] = static_cast<int>(total);
    total += bytes;
    if (total > 0x7fffffff) throw std::runtime_error("gather_items: more than 2 GiB in all");
  }
  if (static_cast<std::int64_t>(local.size()) != static_cast<std::int64_t>(owned[r].size()) * per_item) {
    throw std::logic_error("gather_items: local size does not match the items this rank owns");
  }
  std::vector<T> packed(to_all || r == 0 ? static_cast<std::size_t>(total / sizeof(T)) : 0);
  if (to_all) {
    MPI_Allgatherv(local.data(), counts[r], MPI_BYTE, packed.data(), counts.data(), displs.data(), MPI_BYTE,
                   comm);
  } else {
    MPI_Gatherv(local.data(), counts[r], MPI_BYTE, packed.data(), counts.data(), displs.data(), MPI_BYTE, 0,
                comm);
  }
  if (!to_all && r != 0) return {};
  std::vector<T> out(static_cast<std::size_t>(n * per_item));
  for (int q = 0; q < p; ++q) {
    const T* src = packed.data() + displs[q] / sizeof(T);
    for (std::size_t k = 0; k < owned[q].size(); ++k) {
      std::memcpy(out.data() + owned[q][k] * per_item, src + k * per_item, per_item * sizeof(T));
    }
  }
  return out;
}

}  // namespace deepvox::import
