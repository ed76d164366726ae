#include "import/npy.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <regex>
#include <stdexcept>

namespace deepvox::import::npy {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& why) {
  throw std::runtime_error("NPY file " + path + ": " + why);
}

// Value of one key in the header dict, as the text between its ':' and the next top-level ','.
std::string dict_value(const std::string& dict, const std::string& key, const std::string& path) {
  std::regex re("['\"]" + key + "['\"]\\s*:\\s*");
  std::smatch m;
  if (!std::regex_search(dict, m, re)) fail(path, "header has no '" + key + "' entry: " + dict);
  size_t pos = static_cast<size_t>(m.position(0) + m.length(0));
  int depth = 0;
  size_t end = pos;
  for (; end < dict.size(); ++end) {
    char c = dict[end];
    if (c == '(' || c == '[') ++depth;
    if (c == ')' || c == ']') --depth;
    if ((c == ',' || c == '}') && depth == 0) break;
  }
  std::string v = dict.substr(pos, end - pos);
  v.erase(0, v.find_first_not_of(" \t"));
  v.erase(v.find_last_not_of(" \t") + 1);
  return v;
}

bool host_is_big_endian() {
  const std::uint16_t one = 1;
  unsigned char b = 0;
  std::memcpy(&b, &one, 1);
  return b == 0;
}

// Decodes one element of the file's type into T (integers stay exact up to int64).
template <typename T>
T decode(const unsigned char* p, const Header& h, bool swap) {
  unsigned char buf[8];
  std::memcpy(buf, p, static_cast<size_t>(h.item_size));
  if (swap) std::reverse(buf, buf + h.item_size);
  switch (h.kind) {
    case 'f':
      if (h.item_size == 4) {
        float v;
        std::memcpy(&v, buf, 4);
        return static_cast<T>(v);
      } else {
        double v;
        std::memcpy(&v, buf, 8);
        return static_cast<T>(v);
      }
    case 'b':
      return static_cast<T>(buf[0] != 0);
    case 'i': {
      switch (h.item_size) {
        case 1:
          return static_cast<T>(static_cast<std::int8_t>(buf[0]));
        case 2: {
          std::int16_t v;
          std::memcpy(&v, buf, 2);
          return static_cast<T>(v);
        }
        case 4: {
          std::int32_t v;
          std::memcpy(&v, buf, 4);
          return static_cast<T>(v);
        }
        default: {
          std::int64_t v;
          std::memcpy(&v, buf, 8);
          return static_cast<T>(v);
        }
      }
    }
    default: {  // 'u'
      switch (h.item_size) {
        case 1:
          return static_cast<T>(buf[0]);
        case 2: {
          std::uint16_t v;
          std::memcpy(&v, buf, 2);
          return static_cast<T>(v);
        }
        case 4: {
          std::uint32_t v;
          std::memcpy(&v, buf, 4);
          return static_cast<T>(v);
        }
        default: {
          std::uint64_t v;
          std::memcpy(&v, buf, 8);
          return static_cast<T>(v);
        }
      }
    }
  }
}

}  // namespace

std::int64_t Header::count() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

Header read_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open (no such file or no permission)");
  unsigned char pre[10];
  in.read(reinterpret_cast<char*>(pre), 10);
  if (in.gcount() < 10 || std::memcmp(pre, "\x93NUMPY", 6) != 0) fail(path, "not a .npy file (bad magic)");
  Header h;
  h.major_version = pre[6];
  std::uint32_t header_len = 0;
  std::int64_t prefix = 0;
  if (h.major_version == 1) {
    header_len = static_cast<std::uint32_t>(pre[8]) | (static_cast<std::uint32_t>(pre[9]) << 8);
    prefix = 10;
  } else if (h.major_version == 2 || h.major_version == 3) {
    unsigned char more[2];
    in.read(reinterpret_cast<char*>(more), 2);
    header_len = static_cast<std::uint32_t>(pre[8]) | (static_cast<std::uint32_t>(pre[9]) << 8) |
                 (static_cast<std::uint32_t>(more[0]) << 16) | (static_cast<std::uint32_t>(more[1]) << 24);
    prefix = 12;
  } else {
    fail(path, "unsupported format version " + std::to_string(h.major_version));
  }
  std::string dict(header_len, '\0');
  in.read(dict.data(), header_len);
  if (static_cast<std::uint32_t>(in.gcount()) != header_len) fail(path, "truncated header");
  h.data_offset = prefix + header_len;

  h.descr = dict_value(dict, "descr", path);
  if (h.descr.size() < 3 || (h.descr.front() != '\'' && h.descr.front() != '"'))
    fail(path, "unsupported dtype " + h.descr + " (structured or object arrays cannot be read)");
  h.descr = h.descr.substr(1, h.descr.size() - 2);
  char order = h.descr[0];
  h.kind = h.descr[1];
  h.item_size = std::atoi(h.descr.c_str() + 2);
  h.big_endian = order == '>' || (order == '=' && host_is_big_endian());
  bool ok = (h.kind == 'f' && (h.item_size == 4 || h.item_size == 8)) ||
            ((h.kind == 'i' || h.kind == 'u') &&
             (h.item_size == 1 || h.item_size == 2 || h.item_size == 4 || h.item_size == 8)) ||
            (h.kind == 'b' && h.item_size == 1);
  if (!ok || (order != '<' && order != '>' && order != '|' && order != '='))
    fail(path, "unsupported dtype '" + h.descr +
                   "' (supported: f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1; object "
                   "arrays such as pickled dictionaries cannot be read without Python)");

  std::string fo = dict_value(dict, "fortran_order", path);
  if (fo != "True" && fo != "False") fail(path, "bad fortran_order value " + fo);
  h.fortran_order = fo == "True";

  std::string shape = dict_value(dict, "shape", path);
  if (shape.size() < 2 || shape.front() != '(' || shape.back() != ')') fail(path, "bad shape " + shape);
  std::string inner = shape.substr(1, shape.size() - 2);
  size_t pos = 0;
  while (pos < inner.size()) {
    size_t comma = inner.find(',', pos);
    std::string item = inner.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \tL") + 1);
    if (!item.empty()) {
      char* end = nullptr;
      long long v = std::strtoll(item.c_str(), &end, 10);
      if (*end != '\0' || v < 0) fail(path, "bad shape entry '" + item + "'");
      h.shape.push_back(v);
    }
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return h;
}

template <typename T>
std::vector<T> read(const std::string& path, Header* header_out) {
  Header h = read_header(path);
  if (header_out) *header_out = h;
  const std::int64_t n = h.count();
  std::ifstream in(path, std::ios::binary);
  in.seekg(h.data_offset);
  std::vector<T> out(static_cast<size_t>(n));
  const bool swap = h.item_size > 1 && h.big_endian != host_is_big_endian();

  // Fortran order: the first axis varies fastest in the file. Walk a multi-index in that order and
  // place each element at its C (row-major) offset, so callers always see C order.
  const size_t nd = h.shape.size();
  std::vector<std::int64_t> c_stride(nd, 1), idx(nd, 0);
  for (size_t k = nd; k-- > 1;) c_stride[k - 1] = c_stride[k] * h.shape[k];
  const bool reorder = h.fortran_order && nd > 1;
  std::int64_t c_offset = 0;

  const std::int64_t chunk = 1 << 20;
  std::vector<unsigned char> buf(
      static_cast<size_t>(std::min(chunk, std::max<std::int64_t>(n, 1)) * h.item_size));
  for (std::int64_t done = 0; done < n;) {
    std::int64_t m = std::min(chunk, n - done);
    in.read(reinterpret_cast<char*>(buf.data()), m * h.item_size);
    if (in.gcount() != m * h.item_size)
      fail(path, "truncated data: expected " + std::to_string(n) + " elements of " +
                     std::to_string(h.item_size) + " bytes");
    for (std::int64_t i = 0; i < m; ++i) {
      T v = decode<T>(buf.data() + i * h.item_size, h, swap);
      if (!reorder) {
        out[static_cast<size_t>(done + i)] = v;
        continue;
      }
      out[static_cast<size_t>(c_offset)] = v;
      for (size_t k = 0; k < nd; ++k) {  // advance the Fortran-order multi-index
        c_offset += c_stride[k];
        if (++idx[k] < h.shape[k]) break;
        c_offset -= c_stride[k] * h.shape[k];
        idx[k] = 0;
      }
    }
    done += m;
  }
  return out;
}

template std::vector<float> read<float>(const std::string&, Header*);
template std::vector<double> read<double>(const std::string&, Header*);
template std::vector<std::int64_t> read<std::int64_t>(const std::string&, Header*);
template std::vector<std::uint8_t> read<std::uint8_t>(const std::string&, Header*);

}  // namespace deepvox::import::npy
