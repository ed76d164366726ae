// Results of global chunks (or independent tasks) computed on whichever rank took them, gathered on
// every rank and indexed by chunk: the caller then combines them in chunk order, so any sum or
// concatenation is the same at every rank count (decisions.md "Results that do not depend on the
// rank count").
#pragma once

#include <mpi.h>

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace deepvox::synth {

using Bytes = std::vector<std::uint8_t>;

// Every rank passes the (chunk, payload) pairs it computed; every rank gets all n_chunks payloads
// (empty for chunks nobody computed). Payloads may differ in size.
std::vector<Bytes> allgather_chunks(const std::vector<std::pair<std::int64_t, Bytes>>& mine,
                                    std::int64_t n_chunks, MPI_Comm comm);

// Appends / reads plain values to / from a byte buffer.
template <typename T>
void put(Bytes& b, const T* data, size_t n) {
  const size_t at = b.size();
  b.resize(at + n * sizeof(T));
  if (n) std::memcpy(b.data() + at, data, n * sizeof(T));
}
template <typename T>
void put(Bytes& b, const std::vector<T>& v) {
  std::uint64_t n = v.size();
  put(b, &n, 1);
  put(b, v.data(), v.size());
}
class Reader {
 public:
  explicit Reader(const Bytes& b) : b_(b) {}
  template <typename T>
  void get(T* out, size_t n) {
    std::memcpy(out, b_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
  }
  template <typename T>
  std::vector<T> vec() {
    std::uint64_t n = 0;
    get(&n, 1);
    std::vector<T> v(n);
    get(v.data(), n);
    return v;
  }

 private:
  const Bytes& b_;
  size_t pos_ = 0;
};

}  // namespace deepvox::synth
