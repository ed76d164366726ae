// The resolved configuration of one run: documented defaults <- YAML file <- --set overrides.
//
// Keys are dotted paths ("fit.lambdas", "extract.batch_size"); top-level keys ("run_dir") have no dot.
// Every key is declared once in the schema (src/core/schema/*.inc) with its kind, default and help,
// so an unknown key is an error that names it, for every subcommand, before anything runs.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace deepvox {

// Bad configuration or command line: deterministic, so every rank throws it the same way.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Runs an input-reading step whose failure is the same on every rank (a missing or malformed input file)
// and rethrows it as a ConfigError prefixed with `what`, so rank 0 reports it once and no rank aborts.
template <typename F>
auto deterministic(const std::string& what, F&& step) {
  try {
    return step();
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    const std::string message = e.what();
    throw ConfigError(message.rfind(what, 0) == 0 ? message : what + ": " + message);
  }
}

enum class KeyKind { String, Int, Real, Bool, StringList, RealList, IntList };

struct KeySpec {
  const char* key;
  KeyKind kind;
  const char* default_yaml;  // YAML text of the default ("~" = unset)
  const char* help;
};

// The full schema (all stages, built or not).
const std::vector<KeySpec>& config_schema();

class Config {
 public:
  // Defaults only.
  Config();
  // Defaults, then the YAML file (empty path = none), then each "key=value" override in order.
  static Config load(const std::string& yaml_path, const std::vector<std::string>& overrides);

  void set(const std::string& key, const std::string& yaml_value);  // validates key and kind
  bool has(const std::string& key) const;                           // set to something other than ~
  std::string str(const std::string& key) const;
  long integer(const std::string& key) const;
  double real(const std::string& key) const;
  bool flag(const std::string& key) const;
  std::vector<std::string> strings(const std::string& key) const;
  std::vector<double> reals(const std::string& key) const;
  std::vector<long> integers(const std::string& key) const;

  std::string run_dir() const { return str("run_dir"); }
  // Path of a stage file in run_dir ("features" -> run_dir/features.h5).
  std::string run_file(const std::string& stage) const;
  // The resolved config as nested YAML (stored in every stage file's provenance).
  std::string to_yaml() const;

 private:
  const KeySpec& spec(const std::string& key) const;
  std::map<std::string, std::string> values_;  // key -> YAML text
};

}  // namespace deepvox
