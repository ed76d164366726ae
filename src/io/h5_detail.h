// Internal helpers shared by h5.cpp and h5_dataset.cpp (not part of the public io/h5.h API).
#pragma once

#include <string>
#include <vector>

#include "io/h5.h"

namespace deepvox::h5::detail {

herr_t check(herr_t status, const std::string& what);  // a negative status becomes an Error naming `what`
Handle make_dataspace(const Shape& shape);
Handle fixed_string_type(size_t width);
Handle transfer_props(bool parallel, Transfer mode = Transfer::collective);  // MPI-IO mode of parallel files
bool is_root_of(const Object& o);  // rank 0 of the object's file communicator (true for serial files)
std::string join_path(const std::string& base, const std::string& rel);
std::vector<std::string> read_string_data(hid_t obj, bool is_attr, size_t count);  // fixed or variable length
std::string type_description(hid_t t);
bool unwinding_must_not_block();  // several ranks: a handle closed during unwinding must skip collectives

}  // namespace deepvox::h5::detail
