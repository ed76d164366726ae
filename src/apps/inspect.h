// `deepvox inspect FILE.h5`: what a stage file holds (datasets, shapes, provenance).
#pragma once

#include <ostream>
#include <string>

namespace deepvox {

void inspect_file(const std::string& path, std::ostream& out, bool full_attrs);

}  // namespace deepvox
