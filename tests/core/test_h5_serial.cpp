#include <gtest/gtest.h>

#include <hdf5.h>

#include <numeric>

#include "io/h5.h"

namespace h5 = deepvox::h5;

TEST(H5Serial, RoundTripOfEveryKind) {
  std::string path = ::testing::TempDir() + "/h5_serial.h5";
  {
    auto f = h5::File::open(path, h5::Mode::Create);
    std::vector<float> a(6 * 5);
    std::iota(a.begin(), a.end(), 0.5f);
    f.write_array<float>("/g/a", a, {6, 5});
    std::vector<std::int64_t> idx = {3, -1, 7};
    f.write_vector<std::int64_t>("idx", idx);
    f.write_strings("ids", {"img_001.jpg", "b", ""});
    f.write_attr("network", "inception_v3");
    f.write_attr<std::int64_t>("input_size", 299);
    f.write_attr<std::int64_t>("shape", std::vector<std::int64_t>{288, 35, 35});
    // Chunked + compressed (serial files only).
    h5::CreateOptions opt;
    opt.chunk = {2, 5};
    opt.deflate = 4;
    auto d = f.create_dataset<double>("z", {4, 5}, opt);
    std::vector<double> z(20, 1.25);
    d.write_all(z);
  }
  auto f = h5::File::open(path, h5::Mode::Read);
  auto a = f.dataset("g/a");
  EXPECT_EQ(a.shape(), (h5::Shape{6, 5}));
  EXPECT_EQ(a.type_name(), "float32");
  std::vector<float> block(2 * 3);
  a.read_block<float>({1, 2, 2, 3}, block.data());  // rows 1-2, cols 2-4
  EXPECT_EQ(block[0], 0.5f + 1 * 5 + 2);
  EXPECT_EQ(block[5], 0.5f + 2 * 5 + 4);
  EXPECT_EQ(f.dataset("idx").read_all<std::int64_t>()[1], -1);
  EXPECT_EQ(f.dataset("ids").read_strings(), (std::vector<std::string>{"img_001.jpg", "b", ""}));
  EXPECT_EQ(f.dataset("ids").type_name(), "string[11]");
  EXPECT_EQ(f.read_attr_string("network"), "inception_v3");
  EXPECT_EQ(f.read_attr<std::int64_t>("input_size"), 299);
  EXPECT_EQ(f.read_attr_vector<std::int64_t>("shape")[2], 35);
  EXPECT_EQ(f.dataset("z").read_all<double>()[19], 1.25);
  EXPECT_TRUE(f.exists("g/a"));
  EXPECT_FALSE(f.exists("g/b/c"));
  EXPECT_THROW(f.dataset("nope"), h5::Error);
}

TEST(H5Serial, ReadsVariableLengthStringsWrittenByOtherTools) {
  std::string path = ::testing::TempDir() + "/h5_vlen.h5";
  {
    // Written with the raw C API the way h5py and MATLAB write variable-length strings.
    hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    hsize_t n = 2;
    hid_t space = H5Screate_simple(1, &n, nullptr);
    hid_t d = H5Dcreate2(file, "ids", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char* v[2] = {"1.000000", "rep_x.jpg"};
    H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(d);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(file);
  }
  auto f = h5::File::open(path, h5::Mode::Read);
  EXPECT_EQ(f.dataset("ids").read_strings(), (std::vector<std::string>{"1.000000", "rep_x.jpg"}));
}

TEST(H5Serial, ErrorsNameTheFile) {
  try {
    h5::File::open("/nonexistent/x.h5", h5::Mode::Read);
    FAIL();
  } catch (const h5::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.h5"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos);
  }
  std::string junk = ::testing::TempDir() + "/junk.h5";
  FILE* fp = fopen(junk.c_str(), "w");
  fputs("not hdf5", fp);
  fclose(fp);
  try {
    h5::File::open(junk, h5::Mode::Read);
    FAIL();
  } catch (const h5::Error& e) {
    EXPECT_NE(std::string(e.what()).find("not an HDF5 file"), std::string::npos) << e.what();
  }
}
