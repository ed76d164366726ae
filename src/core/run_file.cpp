#include "core/run_file.h"

#include <openssl/evp.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "core/log.h"
#include "core/mpi.h"
#include "core/text.h"
#include "deepvox_version.h"  // generated at build time (cmake/version.cmake)

namespace deepvox {
namespace {
std::string g_command_line;

}  // namespace

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

void set_command_line(int argc, char** argv) {
  g_command_line.clear();
  for (int i = 0; i < argc; ++i) g_command_line += (i ? " " : "") + std::string(argv[i]);
}
const std::string& command_line() { return g_command_line; }
const char* version() { return DEEPVOX_VERSION; }

std::string config_key(const Config& cfg, const std::string& stage, const std::vector<std::string>& inputs) {
  std::string key;
  for (const auto& spec : config_schema()) {
    const std::string k = spec.key;
    if (k.rfind(stage + ".", 0) != 0 && k != "seed" && k != "threads") continue;
    const bool list =
        spec.kind == KeyKind::StringList || spec.kind == KeyKind::RealList || spec.kind == KeyKind::IntList;
    key += k + "=" + (!cfg.has(k) ? std::string("~") : list ? join(cfg.strings(k)) : cfg.str(k)) + ";";
  }
  for (const auto& path : inputs) {
    auto f = h5::File::open(path, h5::Mode::Read);
    key +=
        path + "@" + (f.has_attr("created_utc") ? f.read_attr_string("created_utc") : std::string("?")) + ";";
  }
  return key;
}

void write_provenance(const h5::Object& root, const Config& cfg, const std::string& stage, int ranks) {
  root.write_attr("deepvox_version", std::string(version()));
  root.write_attr("command_line", command_line());
  root.write_attr("config", cfg.to_yaml());
  root.write_attr<std::int64_t>("mpi_ranks", ranks);
  // Every rank must write identical attribute values in a parallel file: take rank 0's clock.
  std::string now = utc_now();
  now.resize(32, '\0');
  MPI_Bcast(now.data(), 32, MPI_CHAR, 0, MPI_COMM_WORLD);
  root.write_attr("created_utc", std::string(now.c_str()));
  root.write_attr("stage", stage);
}

RunFile::RunFile(const Config& cfg, const std::string& stage, MPI_Comm comm, const std::string& resume_key)
    : comm_(comm) {
  namespace fs = std::filesystem;
  final_path_ = cfg.run_file(stage);
  partial_path_ = final_path_ + ".partial";
  bool ok = true;
  std::string why;
  if (is_root(comm_)) {
    try {
      fs::create_directories(cfg.run_dir());
    } catch (const std::exception& e) {
      ok = false;
      why = e.what();
    }
  }
  if (!all_ok(ok, comm_)) throw std::runtime_error("cannot create run_dir " + cfg.run_dir() + ": " + why);

  // Resume only from a .partial that opens and was written for the same inputs; anything else
  // (a torn file from a kill, another config) is discarded and recomputed.
  int reuse = 0;
  bool resume = !resume_key.empty() && cfg.flag("resume");
  if (resume && is_root(comm_) && h5::is_hdf5(partial_path_)) {
    try {
      auto f = h5::File::open(partial_path_, h5::Mode::Read);
      reuse = f.has_attr("stage") && f.read_attr_string("stage") == stage && f.has_attr("resume_key") &&
                      f.read_attr_string("resume_key") == resume_key
                  ? 1
                  : 0;
    } catch (const std::exception&) {
      reuse = 0;
    }
    if (!reuse)
      log::warn("{}: discarding {} (written for other inputs, or unreadable)", stage, partial_path_);
  }
  MPI_Bcast(&reuse, 1, MPI_INT, 0, comm_);
  if (reuse) {
    file_ = h5::File::open(partial_path_, h5::Mode::ReadWrite, comm_);
    resumed_ = true;
    log::info("{}: resuming from {}", stage, partial_path_);
  } else {
    file_ = h5::File::open(partial_path_, h5::Mode::Create, comm_);
  }
  write_provenance(file_, cfg, stage, size(comm_));
  if (!resume_key.empty()) file_.write_attr("resume_key", resume_key);
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

void RunFile::commit() {
  file_.flush();
  file_.close();
  // Every rank reached this point without throwing; rank 0 makes the result visible atomically.
  MPI_Barrier(comm_);
  int ok = 1;
  if (is_root(comm_)) {
    std::error_code ec;
    std::filesystem::rename(partial_path_, final_path_, ec);
    if (ec) ok = 0;
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm_);
  if (!ok) throw std::runtime_error("cannot rename " + partial_path_ + " to " + final_path_);
  log::info("wrote {}", final_path_);
}

}  // namespace deepvox
