#include "apps/inspect.h"

#include "io/h5.h"

namespace deepvox {
namespace {

std::string shorten(std::string s, bool full) {
  if (full) return s;
  auto nl = s.find('\n');
  if (nl != std::string::npos && nl + 1 < s.size()) s = s.substr(0, nl) + " ... (" + std::to_string(s.size()) + " chars)";
  if (s.size() > 160) s = s.substr(0, 157) + "...";
  return s;
}

void print_attrs(const h5::Object& o, std::ostream& out, const std::string& indent, bool full) {
  for (const auto& a : o.attr_names()) out << indent << "@" << a << " = " << shorten(o.attr_as_text(a), full) << "\n";
}

void walk(const h5::Group& g, std::ostream& out, int depth, bool full) {
  std::string indent(static_cast<size_t>(2 * depth), ' ');
  for (const auto& name : g.children()) {
    if (g.is_group(name)) {
      out << indent << name << "/\n";
      h5::Group child = g.group(name);
      print_attrs(child, out, indent + "  ", full);
      walk(child, out, depth + 1, full);
    } else {
      h5::Dataset d = g.dataset(name);
      out << indent << name << "  " << d.type_name() << " [";
      auto s = d.shape();
      for (size_t i = 0; i < s.size(); ++i) out << (i ? ", " : "") << s[i];
      out << "]\n";
      print_attrs(d, out, indent + "  ", full);
    }
  }
}

}  // namespace

void inspect_file(const std::string& path, std::ostream& out, bool full_attrs) {
  h5::File f = h5::File::open(path, h5::Mode::Read);
  out << path << "\n";
  print_attrs(f, out, "  ", full_attrs);
  walk(f, out, 1, full_attrs);
}

}  // namespace deepvox
