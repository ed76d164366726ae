#include "maximize/chunk_store.h"

#include <numeric>

namespace deepvox::maximize {
namespace {

// A valid pointer for ranks with nothing to write (collective calls need one).
template <typename T>
const T* data_or_dummy(const std::vector<T>* v) {
  static const T dummy{};
  return v && !v->empty() ? v->data() : &dummy;
}

}  // namespace

// doubles: seconds, then the model, independent and (with truth) truth scores, equally long.
ChunkData pack(const ChunkRecord& r) {
  ChunkData d;
  d.bytes = r.images;
  d.floats = r.trajectories;
  d.doubles.push_back(r.seconds);
  for (const auto* v : {&r.model, &r.independent, &r.truth})
    d.doubles.insert(d.doubles.end(), v->begin(), v->end());
  return d;
}

ChunkRecord unpack(ChunkData d, bool truth) {
  ChunkRecord r;
  r.images = std::move(d.bytes);
  r.trajectories = std::move(d.floats);
  if (d.doubles.empty()) throw std::runtime_error("maximize: a saved chunk has no scores");
  r.seconds = d.doubles[0];
  const size_t n = (d.doubles.size() - 1) / (truth ? 3 : 2);
  auto at = [&](size_t k) {
    return std::vector<double>(d.doubles.begin() + 1 + k * n, d.doubles.begin() + 1 + (k + 1) * n);
  };
  r.model = at(0);
  r.independent = at(1);
  if (truth) r.truth = at(2);
  return r;
}

ChunkStore::ChunkStore(const h5::File& f, bool resumed, const Results& r, std::int64_t n_chunks, bool truth)
    : f_(f),
      image_cols_(r.restarts * r.size * r.size * 3),
      traj_cols_(r.restarts * static_cast<std::int64_t>(r.recorded_steps.size())),
      score_cols_(r.restarts * r.n_targets),
      truth_(truth) {
  if (resumed) return;
  h5::CreateOptions early;
  early.allocate_early = true;  // stable, flushed storage before any chunk is marked done
  const std::int64_t t = r.n_targets;
  f.create_dataset<std::uint8_t>("chunks/images", {t, image_cols_}, early);
  f.create_dataset<float>("chunks/trajectories", {t, traj_cols_}, early);
  f.create_dataset<double>("chunks/scores/model", {t, score_cols_}, early);
  f.create_dataset<double>("chunks/scores/independent", {t, score_cols_}, early);
  if (truth) f.create_dataset<double>("chunks/scores/truth", {t, score_cols_}, early);
  f.create_dataset<std::uint8_t>("chunks/done", {n_chunks}, early)
      .write_all(std::vector<std::uint8_t>(n_chunks, 0));
  f.create_dataset<double>("chunks/seconds", {n_chunks}, early).write_all(std::vector<double>(n_chunks, 0.0));
  f.flush();
}

std::vector<std::uint8_t> ChunkStore::done() const {
  return f_.dataset("chunks/done").read_all<std::uint8_t>();
}

void ChunkStore::write(std::int64_t chunk, const Range& targets, const ChunkRecord* rec) {
  const std::int64_t row0 = rec ? targets.begin : 0, rows = rec ? targets.size() : 0;
  f_.dataset("chunks/images")
      .write_block<std::uint8_t>({row0, rows, 0, image_cols_}, data_or_dummy(rec ? &rec->images : nullptr));
  f_.dataset("chunks/trajectories")
      .write_block<float>({row0, rows, 0, traj_cols_}, data_or_dummy(rec ? &rec->trajectories : nullptr));
  f_.dataset("chunks/scores/model")
      .write_block<double>({row0, rows, 0, score_cols_}, data_or_dummy(rec ? &rec->model : nullptr));
  f_.dataset("chunks/scores/independent")
      .write_block<double>({row0, rows, 0, score_cols_}, data_or_dummy(rec ? &rec->independent : nullptr));
  if (truth_)
    f_.dataset("chunks/scores/truth")
        .write_block<double>({row0, rows, 0, score_cols_}, data_or_dummy(rec ? &rec->truth : nullptr));
  // The results reach the disk before the chunk is recorded as done: a kill in between only redoes it.
  f_.flush();
  const std::uint8_t one = 1;
  const std::int64_t c = rec ? chunk : 0, n = rec ? 1 : 0;
  f_.dataset("chunks/done").write_block<std::uint8_t>({c, n, 0, 1}, &one);
  f_.dataset("chunks/seconds")
      .write_block<double>({c, n, 0, 1}, rec ? &rec->seconds : data_or_dummy<double>(nullptr));
  f_.flush();
}

void ChunkStore::finish(Results& r) {
  r.images = f_.dataset("chunks/images").read_all<std::uint8_t>();
  r.trajectories = f_.dataset("chunks/trajectories").read_all<float>();
  r.model.generated = f_.dataset("chunks/scores/model").read_all<double>();
  r.independent.generated = f_.dataset("chunks/scores/independent").read_all<double>();
  if (truth_) r.truth.generated = f_.dataset("chunks/scores/truth").read_all<double>();
  auto seconds = f_.dataset("chunks/seconds").read_all<double>();
  r.optimize_rank_seconds = std::accumulate(seconds.begin(), seconds.end(), 0.0);
  // Timings are attributes in a finished file (run-files.md): datasets must be bit-identical across runs.
  f_.group("chunks").write_attr<double>("seconds", seconds);
  f_.remove("chunks/seconds");
}

}  // namespace deepvox::maximize
