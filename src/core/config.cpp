#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace deepvox {
namespace {

const char* kind_name(KeyKind k) {
  switch (k) {
    case KeyKind::String: return "a string";
    case KeyKind::Int: return "an integer";
    case KeyKind::Real: return "a number";
    case KeyKind::Bool: return "true or false";
    case KeyKind::StringList: return "a list of strings";
    case KeyKind::RealList: return "a list of numbers";
    case KeyKind::IntList: return "a list of integers";
  }
  return "?";
}

bool is_unset(const YAML::Node& n) { return !n.IsDefined() || n.IsNull(); }

// Checks that a YAML value fits the key's kind; throws ConfigError naming the key.
void check_kind(const KeySpec& spec, const YAML::Node& n) {
  if (is_unset(n)) return;
  auto fail = [&] {
    std::ostringstream os;
    os << n;
    throw ConfigError("config key '" + std::string(spec.key) + "' must be " + kind_name(spec.kind) + ", got: " +
                      os.str());
  };
  auto scalar_ok = [&](const YAML::Node& v, KeyKind k) {
    if (!v.IsScalar()) return false;
    try {
      if (k == KeyKind::Int || k == KeyKind::IntList) (void)v.as<long>();
      if (k == KeyKind::Real || k == KeyKind::RealList) (void)v.as<double>();
      if (k == KeyKind::Bool) (void)v.as<bool>();
    } catch (const YAML::Exception&) {
      return false;
    }
    return true;
  };
  switch (spec.kind) {
    case KeyKind::String:
    case KeyKind::Int:
    case KeyKind::Real:
    case KeyKind::Bool:
      if (!scalar_ok(n, spec.kind)) fail();
      break;
    case KeyKind::StringList:
    case KeyKind::RealList:
    case KeyKind::IntList:
      if (n.IsScalar()) {  // a single value is a one-element list
        if (!scalar_ok(n, spec.kind)) fail();
      } else if (n.IsSequence()) {
        for (const auto& v : n)
          if (!scalar_ok(v, spec.kind)) fail();
      } else {
        fail();
      }
      break;
  }
}

// Flattens nested maps into dotted keys; sequences and scalars are leaves.
void flatten(const YAML::Node& node, const std::string& prefix, std::vector<std::pair<std::string, YAML::Node>>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      std::string k = kv.first.as<std::string>();
      flatten(kv.second, prefix.empty() ? k : prefix + "." + k, out);
    }
  } else {
    out.emplace_back(prefix, node);
  }
}

std::string emit(const YAML::Node& n) {
  YAML::Emitter e;
  e.SetSeqFormat(YAML::Flow);
  e << n;
  return e.c_str();
}

}  // namespace

Config::Config() {
  for (const auto& s : config_schema()) values_[s.key] = s.default_yaml;
}

const KeySpec& Config::spec(const std::string& key) const {
  for (const auto& s : config_schema())
    if (key == s.key) return s;
  // Name the key and, when the section exists, the keys it has.
  std::string section = key.substr(0, key.find('.'));
  std::string known;
  for (const auto& s : config_schema()) {
    std::string k = s.key;
    if (k.rfind(section + ".", 0) == 0) known += (known.empty() ? "" : ", ") + k;
  }
  throw ConfigError("unknown config key '" + key + "'" + (known.empty() ? "" : " (known " + section + " keys: " + known + ")"));
}

void Config::set(const std::string& key, const std::string& yaml_value) {
  const KeySpec& s = spec(key);
  YAML::Node n;
  try {
    n = YAML::Load(yaml_value);
  } catch (const YAML::Exception& e) {
    throw ConfigError("config key '" + key + "': cannot parse value '" + yaml_value + "': " + e.what());
  }
  check_kind(s, n);
  values_[key] = yaml_value;
}

Config Config::load(const std::string& yaml_path, const std::vector<std::string>& overrides) {
  Config cfg;
  if (!yaml_path.empty()) {
    if (!std::filesystem::exists(yaml_path)) throw ConfigError("config file not found: " + yaml_path);
    YAML::Node root;
    try {
      root = YAML::LoadFile(yaml_path);
    } catch (const YAML::Exception& e) {
      throw ConfigError("cannot parse config " + yaml_path + ": " + e.what());
    }
    if (!root.IsNull() && !root.IsMap()) throw ConfigError("config " + yaml_path + " must be a YAML mapping");
    std::vector<std::pair<std::string, YAML::Node>> flat;
    flatten(root, "", flat);
    for (auto& [k, v] : flat) {
      try {
        cfg.set(k, emit(v));
      } catch (const ConfigError& e) {
        throw ConfigError(std::string(e.what()) + " (in " + yaml_path + ")");
      }
    }
  }
  for (const auto& o : overrides) {
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) throw ConfigError("--set expects key=value, got '" + o + "'");
    cfg.set(o.substr(0, eq), o.substr(eq + 1));
  }
  return cfg;
}

namespace {
YAML::Node node_of(const std::map<std::string, std::string>& values, const std::string& key) {
  auto it = values.find(key);
  if (it == values.end()) throw ConfigError("unknown config key '" + key + "'");
  return YAML::Load(it->second);
}
template <typename T>
T scalar(const std::map<std::string, std::string>& values, const std::string& key) {
  YAML::Node n = node_of(values, key);
  if (is_unset(n)) throw ConfigError("config key '" + key + "' is required but not set");
  return n.as<T>();
}
template <typename T>
std::vector<T> list(const std::map<std::string, std::string>& values, const std::string& key) {
  YAML::Node n = node_of(values, key);
  std::vector<T> out;
  if (is_unset(n)) return out;
  if (n.IsScalar()) return {n.as<T>()};
  for (const auto& v : n) out.push_back(v.as<T>());
  return out;
}
}  // namespace

bool Config::has(const std::string& key) const {
  spec(key);
  return !is_unset(node_of(values_, key));
}
std::string Config::str(const std::string& key) const { return scalar<std::string>(values_, key); }
long Config::integer(const std::string& key) const { return scalar<long>(values_, key); }
double Config::real(const std::string& key) const { return scalar<double>(values_, key); }
bool Config::flag(const std::string& key) const { return scalar<bool>(values_, key); }
std::vector<std::string> Config::strings(const std::string& key) const { return list<std::string>(values_, key); }
std::vector<double> Config::reals(const std::string& key) const { return list<double>(values_, key); }
std::vector<long> Config::integers(const std::string& key) const { return list<long>(values_, key); }

std::string Config::run_file(const std::string& stage) const {
  return (std::filesystem::path(run_dir()) / (stage + ".h5")).string();
}

std::string Config::to_yaml() const {
  YAML::Node root(YAML::NodeType::Map);
  for (const auto& s : config_schema()) {
    std::string key = s.key;
    YAML::Node value = YAML::Load(values_.at(key));
    // Nest dotted keys of any depth (reset() rebinds; assignment would overwrite the parent).
    YAML::Node cur = root;
    size_t start = 0, dot;
    while ((dot = key.find('.', start)) != std::string::npos) {
      cur.reset(cur[key.substr(start, dot - start)]);
      start = dot + 1;
    }
    cur[key.substr(start)] = value;
  }
  YAML::Emitter e;
  e << root;
  return std::string(e.c_str()) + "\n";
}

}  // namespace deepvox
