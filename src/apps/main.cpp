// deepvox: image-computable models of the human visual cortex, as one MPI batch program.
//
// Sample runs:
//   deepvox --help
//   mpirun -n 2 --map-by slot:PE=1 deepvox pipeline --config configs/demo.yaml
//   mpirun -n 4 deepvox extract --config configs/ci.yaml --set extract.batch_size=8
//   deepvox import --config configs/demo.yaml --format virtual
//   deepvox inspect runs/demo/features.h5
//
// Description:
//   Each subcommand is one stage of the pipeline. A stage reads the run directory's HDF5 files,
//   computes, and writes its own file (NAME.h5.partial, renamed to NAME.h5 only on success).
//   Every option is shorthand for a config key: `extract --batch-size 8` is
//   `--set extract.batch_size=8`, and `--run-dir D` is `--set run_dir=D`.
#include <boost/program_options.hpp>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "apps/inspect.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mpi.h"
#include "core/progress.h"
#include "core/run_file.h"
#include "core/threads.h"

#if defined(HAVE_DEEPVOX_IMPORT) && __has_include("import/import.h")
#include "import/import.h"
#define DEEPVOX_STAGE_IMPORT &deepvox::import::run
#else
#define DEEPVOX_STAGE_IMPORT nullptr
#endif
#if defined(HAVE_DEEPVOX_EXTRACT) && __has_include("extract/extract.h")
#include "extract/extract.h"
#define DEEPVOX_STAGE_EXTRACT &deepvox::extract::run
#else
#define DEEPVOX_STAGE_EXTRACT nullptr
#endif
#if defined(HAVE_DEEPVOX_FIT) && __has_include("fit/fit.h")
#include "fit/fit.h"
#define DEEPVOX_STAGE_FIT &deepvox::fit::run
#else
#define DEEPVOX_STAGE_FIT nullptr
#endif
#if defined(HAVE_DEEPVOX_SYNTH) && __has_include("synth/synth.h")
#include "synth/synth.h"
#define DEEPVOX_STAGE_SYNTH &deepvox::synth::run
#else
#define DEEPVOX_STAGE_SYNTH nullptr
#endif
#if defined(HAVE_DEEPVOX_DECODE) && __has_include("decode/decode.h")
#include "decode/decode.h"
#define DEEPVOX_STAGE_DECODE &deepvox::decode::run
#else
#define DEEPVOX_STAGE_DECODE nullptr
#endif
#if defined(HAVE_DEEPVOX_MAXIMIZE) && __has_include("maximize/maximize.h")
#include "maximize/maximize.h"
#define DEEPVOX_STAGE_MAXIMIZE &deepvox::maximize::run
#else
#define DEEPVOX_STAGE_MAXIMIZE nullptr
#endif
#if defined(HAVE_DEEPVOX_RECONSTRUCT) && __has_include("reconstruct/reconstruct.h")
#include "reconstruct/reconstruct.h"
#define DEEPVOX_STAGE_RECONSTRUCT &deepvox::reconstruct::run
#else
#define DEEPVOX_STAGE_RECONSTRUCT nullptr
#endif
#if defined(HAVE_DEEPVOX_EXPLAIN) && __has_include("explain/explain.h")
#include "explain/explain.h"
#define DEEPVOX_STAGE_EXPLAIN &deepvox::explain::run
#else
#define DEEPVOX_STAGE_EXPLAIN nullptr
#endif

namespace po = boost::program_options;
using deepvox::Config;
using deepvox::ConfigError;

namespace {

using StageFn = void (*)(const Config&, MPI_Comm);

struct Stage {
  const char* name;
  const char* summary;
  StageFn run;  // nullptr: not built in this version
};

// Pipeline order (decisions.md): import builds the demo subject, then the stages that use it.
const std::vector<Stage>& stages() {
  static const std::vector<Stage> table = {
      {"import", "read a fMRI dataset (or build the demo virtual subject) into responses.h5",
       DEEPVOX_STAGE_IMPORT},
      {"extract", "multi-layer CNN activations of every stimulus, adaptively pooled, into features.h5",
       DEEPVOX_STAGE_EXTRACT},
      {"fit", "voxelwise ridge encoding models with cross-validated lambda per voxel into model.h5",
       DEEPVOX_STAGE_FIT},
      {"synth", "synthetic fMRI responses to unseen images, compared with real repetitions",
       DEEPVOX_STAGE_SYNTH},
      {"decode", "category decoders trained on synthetic or real responses, tested on real fMRI",
       DEEPVOX_STAGE_DECODE},
      {"maximize", "activation maximization of voxels and ROIs through the encoding model",
       DEEPVOX_STAGE_MAXIMIZE},
      {"reconstruct", "images from brain activity: feature decoding plus pixel optimization",
       DEEPVOX_STAGE_RECONSTRUCT},
      {"explain", "parallel-backpropagation maps of the features two images share", DEEPVOX_STAGE_EXPLAIN},
  };
  return table;
}

const Stage* find_stage(const std::string& name) {
  for (const auto& s : stages())
    if (name == s.name) return &s;
  return nullptr;
}

std::string usage() {
  std::string u =
      "usage: deepvox <command> [--config FILE] [--set key=value ...] [--<key> value ...]\n\n"
      "Stages (run under mpirun; each writes one HDF5 file in run_dir):\n";
  for (const auto& s : stages()) {
    std::string name = s.name;
    name.resize(13, ' ');
    u += "  " + name + s.summary + (s.run ? "" : " [not built yet]") + "\n";
  }
  u += "  pipeline     every built stage in order\n\n"
       "Tools:\n"
       "  inspect      print what an HDF5 stage file holds: deepvox inspect FILE.h5 [--full]\n"
       "  config       print the resolved config (defaults <- --config <- --set) as YAML\n"
       "  keys         list every config key with its default and meaning\n\n"
       "Run `deepvox <command> --help` for the options of one command.\n";
  return u;
}

// Options common to every stage command.
po::options_description stage_options() {
  po::options_description o("Options");
  o.add_options()("help,h", "show this help")("config,c", po::value<std::string>()->default_value(""),
                                              "YAML config file (documented defaults for missing keys)")(
      "set,s", po::value<std::vector<std::string>>()->composing(),
      "override a key: --set fit.folds=10 (repeatable)");
  return o;
}

// Turns leftover `--some-key value` / `--some-key=value` into overrides of `<command>.some_key`
// (or the top-level `some_key`), so every flag is shorthand for a --set.
std::vector<std::string> shorthand_overrides(const std::string& command,
                                             const std::vector<std::string>& rest) {
  Config probe;
  std::vector<std::string> out;
  for (size_t i = 0; i < rest.size(); ++i) {
    std::string arg = rest[i];
    if (arg.rfind("--", 0) != 0) throw ConfigError("unexpected argument '" + arg + "'");
    arg = arg.substr(2);
    std::string value;
    auto eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (i + 1 < rest.size() && rest[i + 1].rfind("--", 0) != 0) {
      value = rest[++i];
    } else {
      value = "true";  // a bare flag: --per-layer
    }
    std::string key = arg;
    for (auto& c : key)
      if (c == '-') c = '_';
    std::vector<std::string> candidates = {command + "." + key, key};
    bool matched = false;
    for (const auto& cand : candidates) {
      try {
        probe.set(cand, value);
        out.push_back(cand + "=" + value);
        matched = true;
        break;
      } catch (const ConfigError& e) {
        if (std::string(e.what()).find("unknown config key") == std::string::npos) throw;
      }
    }
    // In `pipeline`, --device and similar flags apply to every stage that has the key.
    if (!matched && (command == "pipeline" || command == "config")) {
      for (const auto& s : stages()) {
        std::string cand = std::string(s.name) + "." + key;
        try {
          probe.set(cand, value);
          out.push_back(cand + "=" + value);
          matched = true;
        } catch (const ConfigError&) {
        }
      }
    }
    if (!matched)
      throw ConfigError("unknown option '--" + arg + "' for '" + command + "' (no config key " + command +
                        "." + key + " or " + key + ")");
  }
  return out;
}

void print_keys(std::ostream& out) {
  for (const auto& s : deepvox::config_schema()) {
    std::string k = s.key;
    k.resize(28, ' ');
    out << k << " = " << s.default_yaml << "\n      " << s.help << "\n";
  }
}

void run_stage(const Stage& s, const Config& cfg) {
  deepvox::log::info("=== {} ===", s.name);
  s.run(cfg, MPI_COMM_WORLD);
}

int run_command(const std::string& command, const std::vector<std::string>& args) {
  bool root = deepvox::is_root();
  if (command == "inspect") {
    po::options_description o("inspect options");
    o.add_options()("help,h", "show this help")("full", "print long attributes (such as config) in full")(
        "file", po::value<std::string>(), "HDF5 file");
    po::positional_options_description pos;
    pos.add("file", 1);
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(o).positional(pos).run(), vm);
    if (vm.count("help") || !vm.count("file")) {
      if (root) std::cout << "usage: deepvox inspect FILE.h5 [--full]\n" << o;
      return vm.count("help") ? 0 : 1;
    }
    if (root) deepvox::inspect_file(vm["file"].as<std::string>(), std::cout, vm.count("full") > 0);
    return 0;
  }
  if (command == "keys") {
    if (root) print_keys(std::cout);
    return 0;
  }

  const Stage* stage = find_stage(command);
  if (!stage && command != "pipeline" && command != "config") {
    if (root) std::cerr << "deepvox: unknown command '" << command << "'\n\n" << usage();
    return 1;
  }
  po::options_description o = stage_options();
  po::variables_map vm;
  auto parsed = po::command_line_parser(args).options(o).allow_unregistered().run();
  po::store(parsed, vm);
  po::notify(vm);
  if (vm.count("help")) {
    if (root) {
      std::cout << "usage: deepvox " << command
                << " [--config FILE] [--set key=value ...] [--<key> value ...]\n\n"
                << (stage ? stage->summary : "every built stage in order") << "\n\n"
                << o << "\nKeys of this command (also settable as --<key with - for _>):\n";
      for (const auto& s : deepvox::config_schema()) {
        std::string k = s.key;
        if (k.find('.') == std::string::npos || k.rfind(command + ".", 0) == 0 || command == "pipeline" ||
            command == "config")
          std::cout << "  " << k << " = " << s.default_yaml << "\n      " << s.help << "\n";
      }
    }
    return 0;
  }

  // 1. Resolve and validate the whole config before anything runs.
  std::vector<std::string> overrides =
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  auto rest = po::collect_unrecognized(parsed.options, po::include_positional);
  for (auto& s : shorthand_overrides(command, rest)) overrides.push_back(s);
  Config cfg = Config::load(vm["config"].as<std::string>(), overrides);
  deepvox::set_progress_mode(deepvox::parse_progress_mode(cfg.str("progress")));
  if (command == "config") {
    if (root) std::cout << cfg.to_yaml();
    return 0;
  }

  if (cfg.integer("array.tasks") != 0 && command != "maximize" && command != "explain" &&
      command != "reconstruct")
    throw ConfigError(
        "array.tasks applies to maximize, explain and reconstruct (their targets are independent "
        "chunks), not to '" +
        command + "'");

  // 2. Threads per rank, then the stage(s).
  deepvox::log::info("deepvox {} on {} rank(s), run_dir {}", deepvox::version(), deepvox::size(),
                     cfg.run_dir());
  deepvox::apply_threads(cfg);
  if (cfg.integer("debug.fail_on_rank") == deepvox::rank()) {
    throw std::runtime_error("injected failure in '" + command + "' (debug.fail_on_rank)");
  }
  if (cfg.integer("debug.fail_on_rank") >= 0) MPI_Barrier(MPI_COMM_WORLD);  // the others wait in a collective
  if (stage) {
    if (!stage->run) {
      if (root) std::cerr << "deepvox: stage '" << command << "' is not built in this version yet\n";
      return 2;
    }
    run_stage(*stage, cfg);
    return 0;
  }
  for (const auto& s : stages()) {
    if (s.run)
      run_stage(s, cfg);
    else
      deepvox::log::info("pipeline: skipping '{}' (not built in this version)", s.name);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // 1. Initialize MPI and logging.
  deepvox::MpiSession mpi(&argc, &argv);
  deepvox::set_command_line(argc, argv);
  deepvox::log::init(deepvox::rank(), deepvox::size());
  const bool root = deepvox::is_root();

  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    if (root) std::cout << usage();
    return args.empty() ? 1 : 0;
  }
  if (args[0] == "--version") {
    if (root) std::cout << "deepvox " << deepvox::version() << "\n";
    return 0;
  }
  std::string command = args[0];
  args.erase(args.begin());

  // 2. One error path. Bad configs and command lines are found identically on every rank, so rank 0
  //    reports them and all ranks exit 1. Anything else may hit one rank only: it reports itself
  //    (rank and host in the log pattern) and aborts the whole job so no rank hangs in a collective.
  try {
    return run_command(command, args);
  } catch (const ConfigError& e) {
    if (root) std::cerr << "deepvox " << command << ": error: " << e.what() << "\n";
    return 1;
  } catch (const po::error& e) {
    if (root) std::cerr << "deepvox " << command << ": error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    deepvox::log::error("{}: {}", command, e.what());
    spdlog::default_logger()->flush();
    if (deepvox::size() > 1) MPI_Abort(MPI_COMM_WORLD, 3);
  }
  return 3;
}
