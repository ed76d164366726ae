// Typed, checked wrappers over OpenBLAS (CBLAS) and LAPACK for float and double, row-major.
// Debian ships no LAPACKE header, so the eigensolver goes through the Fortran symbol (ssyevd_/dsyevd_)
// that libopenblas exports; a symmetric matrix is its own transpose, so row-major needs no copy.
#pragma once

#include <cstdint>
#include <string>

namespace deepvox::fit::blas {

// C (m x n) = alpha * op(A) * op(B) + beta * C, all row-major with leading dimensions.
template <typename T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

// C (n x n) = A * A^T (trans = false, A is n x k) or A^T * A (trans = true, A is k x n); the full
// symmetric matrix is filled (syrk computes one triangle, the other is mirrored).
template <typename T>
void gram(bool trans, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda, T* c);

// Eigen-decomposition of the symmetric n x n matrix a (divide and conquer). On return w holds the
// eigenvalues in ascending order and row k of a holds the eigenvector of w[k].
template <typename T>
void syevd(std::int64_t n, T* a, T* w);

// Floating-point operations and wall time spent in gemm and gram (syrk) since the last reset: the
// achieved GFLOP/s of the dominant products, reported by the stage and the benchmark.
struct Counters {
  double gemm_flops = 0, gemm_seconds = 0, syrk_flops = 0, syrk_seconds = 0, eig_seconds = 0;
};
Counters counters();
void reset_counters();

// Threads OpenBLAS uses in this process.
void set_threads(int threads);
int threads();
// The kernel set OpenBLAS picked for this CPU (e.g. "SkylakeX") and its build string.
std::string core_name();
std::string config();
// Empty, or what to set when OpenBLAS picked kernels known to be slow on this CPU (docs/fit.md).
std::string kernel_advice();

}  // namespace deepvox::fit::blas
