#include "core/chunk_cache.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/mpi.h"
#include "io/h5.h"

namespace deepvox {

namespace fs = std::filesystem;

Range ArrayTask::block(std::int64_t n_chunks) const {
  return active() ? block_range(n_chunks, index, count) : Range{0, n_chunks};
}

std::vector<std::int64_t> ArrayTask::my_chunks(std::int64_t n_chunks, int r, int p) const {
  const Range b = block(n_chunks);
  std::vector<std::int64_t> out;
  for (std::int64_t c = b.begin + r; c < b.end; c += p) out.push_back(c);
  return out;
}

std::int64_t ArrayTask::items(const std::vector<Range>& chunks) const {
  const Range b = block(static_cast<std::int64_t>(chunks.size()));
  std::int64_t n = 0;
  for (std::int64_t c = b.begin; c < b.end; ++c) n += chunks[static_cast<size_t>(c)].size();
  return n;
}

ArrayTask array_task(const Config& cfg, const std::string& stage) {
  ArrayTask t;
  const long count = cfg.integer("array.tasks"), index = cfg.integer("array.task");
  if (count < 0)
    throw ConfigError("array.tasks must be 0 (no job array) or more, not " + std::to_string(count));
  if (count > 0 && (index < 0 || index >= count)) {
    throw ConfigError(stage + ": array.task " + std::to_string(index) + " is outside 0.." +
                      std::to_string(count - 1) + " (array.tasks " + std::to_string(count) + ")");
  }
  t.count = static_cast<int>(count);
  t.index = count > 0 ? static_cast<int>(index) : 0;
  return t;
}

ChunkCache::ChunkCache(const Config& cfg, const std::string& stage, std::string key)
    : folder_((fs::path(cfg.run_dir()) / (stage + ".chunks")).string()), key_(std::move(key)) {}

std::string ChunkCache::path(std::int64_t c) const {
  char name[32];
  std::snprintf(name, sizeof name, "chunk-%06lld.h5", static_cast<long long>(c));
  return (fs::path(folder_) / name).string();
}

bool ChunkCache::has(std::int64_t c) const {
  const std::string p = path(c);
  if (!fs::exists(p)) return false;
  try {
    auto f = h5::File::open(p, h5::Mode::Read);
    return f.has_attr("key") && f.read_attr_string("key") == key_;
  } catch (const std::exception&) {
    return false;  // unreadable: computed again and overwritten
  }
}

ChunkData ChunkCache::load(std::int64_t c) const {
  auto f = h5::File::open(path(c), h5::Mode::Read);
  ChunkData d;
  if (f.exists("bytes")) d.bytes = f.dataset("bytes").read_all<std::uint8_t>();
  if (f.exists("floats")) d.floats = f.dataset("floats").read_all<float>();
  if (f.exists("doubles")) d.doubles = f.dataset("doubles").read_all<double>();
  return d;
}

void ChunkCache::save(std::int64_t c, const ChunkData& d) const {
  fs::create_directories(folder_);
  const std::string final_path = path(c), tmp = final_path + ".tmp." + std::to_string(::getpid());
  {
    auto f = h5::File::open(tmp, h5::Mode::Create);
    f.write_attr("key", key_);
    if (!d.bytes.empty()) f.write_vector("bytes", d.bytes);
    if (!d.floats.empty()) f.write_vector("floats", d.floats);
    if (!d.doubles.empty()) f.write_vector("doubles", d.doubles);
    f.flush();
  }
  fs::rename(tmp, final_path);
}

void ChunkCache::clear() const {
  std::error_code ec;
  fs::remove_all(folder_, ec);
}

}  // namespace deepvox
