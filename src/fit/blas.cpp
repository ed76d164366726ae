#include "fit/blas.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" {
// LAPACK (Fortran ABI, 32-bit integers as Debian's OpenBLAS is built).
void ssyevd_(const char* jobz, const char* uplo, const int* n, float* a, const int* lda, float* w,
             float* work, const int* lwork, int* iwork, const int* liwork, int* info);
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w,
             double* work, const int* lwork, int* iwork, const int* liwork, int* info);
}

namespace deepvox::fit::blas {
namespace {

Counters g_counters;

// Adds a call's flops and wall time to the counters (BLAS calls come from one thread per rank).
class Timed {
 public:
  Timed(double* flops, double* seconds, double f) : seconds_(seconds), t0_(std::chrono::steady_clock::now()) {
    *flops += f;
  }
  ~Timed() { *seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }

 private:
  double* seconds_;
  std::chrono::steady_clock::time_point t0_;
};

double gemm_flops(std::int64_t m, std::int64_t n, std::int64_t k) { return 2.0 * m * n * k; }

// C = beta C: what a product over an empty inner dimension (no features left) leaves.
template <typename T>
void scale_only(std::int64_t m, std::int64_t n, T beta, T* c, std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
}

int checked_int(std::int64_t v, const char* what) {
  if (v < 0 || v > std::numeric_limits<int>::max())
    throw std::runtime_error(std::string("fit: matrix dimension out of BLAS range (") + what + " = " +
                             std::to_string(v) + ")");
  return static_cast<int>(v);
}

void lapack_syevd(int n, float* a, float* w, float* work, int lwork, int* iwork, int liwork, int* info) {
  ssyevd_("V", "U", &n, a, &n, w, work, &lwork, iwork, &liwork, info);
}
void lapack_syevd(int n, double* a, double* w, double* work, int lwork, int* iwork, int liwork, int* info) {
  dsyevd_("V", "U", &n, a, &n, w, work, &lwork, iwork, &liwork, info);
}

template <typename T>
void mirror_upper(std::int64_t n, T* c) {
  // syrk filled the upper triangle (row-major): copy it to the lower one.
  for (std::int64_t i = 1; i < n; ++i)
    for (std::int64_t j = 0; j < i; ++j) c[i * n + j] = c[j * n + i];
}

}  // namespace

template <>
void gemm<float>(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                 const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                 std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_only(m, n, beta, c, ldc);
  Timed t(&g_counters.gemm_flops, &g_counters.gemm_seconds, gemm_flops(m, n, k));
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              checked_int(m, "m"), checked_int(n, "n"), checked_int(k, "k"), alpha, a,
              checked_int(std::max<std::int64_t>(lda, 1), "lda"), b,
              checked_int(std::max<std::int64_t>(ldb, 1), "ldb"), beta, c, checked_int(ldc, "ldc"));
}

template <>
void gemm<double>(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                  const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta,
                  double* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_only(m, n, beta, c, ldc);
  Timed t(&g_counters.gemm_flops, &g_counters.gemm_seconds, gemm_flops(m, n, k));
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              checked_int(m, "m"), checked_int(n, "n"), checked_int(k, "k"), alpha, a,
              checked_int(std::max<std::int64_t>(lda, 1), "lda"), b,
              checked_int(std::max<std::int64_t>(ldb, 1), "ldb"), beta, c, checked_int(ldc, "ldc"));
}

template <>
void gram<float>(bool trans, std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, float* c) {
  if (n == 0) return;
  Timed t(&g_counters.syrk_flops, &g_counters.syrk_seconds, 1.0 * n * n * k);
  cblas_ssyrk(CblasRowMajor, CblasUpper, trans ? CblasTrans : CblasNoTrans, checked_int(n, "n"),
              checked_int(k, "k"), 1.0f, a, checked_int(std::max<std::int64_t>(lda, 1), "lda"), 0.0f, c,
              checked_int(n, "n"));
  mirror_upper(n, c);
}

template <>
void gram<double>(bool trans, std::int64_t n, std::int64_t k, const double* a, std::int64_t lda, double* c) {
  if (n == 0) return;
  Timed t(&g_counters.syrk_flops, &g_counters.syrk_seconds, 1.0 * n * n * k);
  cblas_dsyrk(CblasRowMajor, CblasUpper, trans ? CblasTrans : CblasNoTrans, checked_int(n, "n"),
              checked_int(k, "k"), 1.0, a, checked_int(std::max<std::int64_t>(lda, 1), "lda"), 0.0, c,
              checked_int(n, "n"));
  mirror_upper(n, c);
}

template <typename T>
void syevd(std::int64_t n64, T* a, T* w) {
  if (n64 == 0) return;
  int n = checked_int(n64, "n");
  int info = 0, lwork = -1, liwork = -1, iwork_query = 0;
  T work_query = 0;
  lapack_syevd(n, a, w, &work_query, lwork, &iwork_query, liwork, &info);
  if (info != 0)
    throw std::runtime_error("fit: syevd workspace query failed (info " + std::to_string(info) + ")");
  double ignored_flops = 0;
  Timed t(&ignored_flops, &g_counters.eig_seconds, 0);
  lwork = static_cast<int>(work_query) + 1;
  liwork = iwork_query;
  std::vector<T> work(static_cast<size_t>(lwork));
  std::vector<int> iwork(static_cast<size_t>(std::max(liwork, 1)));
  // Column-major LAPACK sees the transpose of our row-major symmetric matrix: the same matrix. Its
  // eigenvector columns are therefore our rows.
  lapack_syevd(n, a, w, work.data(), lwork, iwork.data(), liwork, &info);
  if (info != 0)
    throw std::runtime_error("fit: eigendecomposition of a " + std::to_string(n) + "x" + std::to_string(n) +
                             " Gram matrix failed to converge (LAPACK info " + std::to_string(info) + ")");
}

template void syevd<float>(std::int64_t, float*, float*);
template void syevd<double>(std::int64_t, double*, double*);

Counters counters() { return g_counters; }
void reset_counters() { g_counters = Counters(); }

void set_threads(int threads) { openblas_set_num_threads(std::max(threads, 1)); }
int threads() { return openblas_get_num_threads(); }
std::string core_name() { return openblas_get_corename(); }
std::string config() { return openblas_get_config(); }

std::string kernel_advice() {
  // On a Sapphire Rapids VM, Debian 12's OpenBLAS 0.3.21 chose Cooperlake's kernels on one machine and
  // the generic Prescott ones on another: fit's products ran at 19 GFLOP/s per core, against 99 to 129
  // with OPENBLAS_CORETYPE=SkylakeX. The variable is read when the library loads, hence advice.
  const std::string core = core_name(), build = config();  // build: "OpenBLAS 0.3.21 DYNAMIC_ARCH ..."
  const bool avx512 = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2");
  const std::string want = avx512 ? "SkylakeX" : "Haswell";
  static const char* const pre_avx2[] = {
      "Prescott",   "Core2",     "Penryn", "Dunnington", "Nehalem", "Sandybridge", "Atom",       "Katmai",
      "Coppermine", "Northwood", "Banias", "Barcelona",  "Opteron", "Bulldozer",   "Piledriver", "Bobcat"};
  const bool generic =
      std::any_of(std::begin(pre_avx2), std::end(pre_avx2), [&](const char* c) { return core == c; });
  const bool slow_avx512 =
      (core == "Cooperlake" || core == "SapphireRapids") && build.find("0.3.21") != std::string::npos;
  if (!((avx2 && generic) || (avx512 && slow_avx512))) return "";
  return build.substr(0, build.find(' ', 9)) + " chose its " + core + " kernels on a CPU with " +
         (avx512 ? "AVX-512" : "AVX2") +
         ", measured up to 5x slower for these products: export OPENBLAS_CORETYPE=" + want + " before mpirun";
}

}  // namespace deepvox::fit::blas
