// Manifest CSVs, stimulus ids and HDF5 image bricks (fixtures from make_image_fixtures.py / h5py).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "io/manifest.h"

namespace fs = std::filesystem;
using deepvox::ManifestError;

namespace {

std::string fixture(const std::string& name) { return std::string(DEEPVOX_IMAGE_FIXTURES) + "/" + name; }

// Writes `text` to a fresh file in a per-test temp folder and returns its path.
std::string write_temp(const std::string& name, const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / ("deepvox_manifest_" + std::to_string(::getpid()));
  fs::create_directories(dir / "sub");
  const fs::path p = dir / name;
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

void expect_manifest_error(const std::string& text, const std::string& where, const std::string& words) {
  const std::string path = write_temp("bad.csv", text);
  try {
    deepvox::read_manifest(path);
    FAIL() << "accepted: " << text;
  } catch (const ManifestError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path + where), std::string::npos) << "wrong file/line in: " << msg;
    EXPECT_NE(msg.find(words), std::string::npos) << "lacks '" << words << "': " << msg;
  }
}

}  // namespace

TEST(StimulusIds, RunFilesRules) {
  EXPECT_EQ(deepvox::stimulus_id_bold5000("Presented_Stimuli/COCO/rep_COCO_train2014_000000000036.jpg"),
            "COCO_train2014_000000000036.jpg");
  EXPECT_EQ(deepvox::stimulus_id_bold5000("n01440764_10110.JPEG"), "n01440764_10110.JPEG");
  EXPECT_EQ(deepvox::stimulus_id_nsd(13), "nsd-00013");
  EXPECT_EQ(deepvox::stimulus_id_nsd(73000), "nsd-73000");
  EXPECT_THROW(deepvox::stimulus_id_nsd(0), ManifestError);
  EXPECT_EQ(deepvox::stimulus_id_bdata(1518473.0144), "1518473.014400");
  EXPECT_EQ(deepvox::stimulus_id_brick_row(12, true), "nsd-00013");
  EXPECT_EQ(deepvox::stimulus_id_brick_row(12, false), "000012");
}

TEST(Csv, QuotesCommasNewlinesAndBlankLines) {
  std::vector<int> lines;
  const auto rec = deepvox::parse_csv(
      "\xEF\xBB\xBF"
      "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n\n1,,3\n",
      "t.csv", &lines);
  ASSERT_EQ(rec.size(), 3u);
  EXPECT_EQ(rec[0], (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(rec[1], (std::vector<std::string>{"x, y", "say \"hi\"", "two\nlines"}));
  EXPECT_EQ(rec[2], (std::vector<std::string>{"1", "", "3"}));
  EXPECT_EQ(lines, (std::vector<int>{1, 2, 5}));
  EXPECT_EQ(deepvox::csv_field("plain"), "plain");
  EXPECT_EQ(deepvox::csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
}

TEST(Manifest, ColumnsByNameRelativePathsExtraColumns) {
  const std::string path =
      write_temp("m.csv",
                 "licence,path,category,stimulus_id\nGPL-2+,sub/a.jpg,birds,img-1\n\"CC BY, 4.0\","
                 "/abs/b.png,,\"img,2\"\n");
  const auto m = deepvox::read_manifest(path);
  ASSERT_EQ(m.entries.size(), 2u);
  EXPECT_TRUE(m.has_category);
  EXPECT_EQ(m.entries[0].id, "img-1");
  EXPECT_EQ(m.entries[0].path, (fs::path(path).parent_path() / "sub/a.jpg").string());
  EXPECT_EQ(m.entries[0].category, "birds");
  EXPECT_EQ(m.entries[1].id, "img,2");
  EXPECT_EQ(m.entries[1].path, "/abs/b.png");
  EXPECT_EQ(m.entries[1].fields.at("licence"), "CC BY, 4.0");
  EXPECT_EQ(m.entries[1].line, 3);
}

TEST(Manifest, ErrorsNameFileAndLine) {
  expect_manifest_error("id,path\na,b.jpg\n", ":1:", "missing column 'stimulus_id'");
  expect_manifest_error("stimulus_id,file\na,b.jpg\n", ":1:", "missing column 'path'");
  expect_manifest_error("stimulus_id,path\na,x.jpg\nb,y.jpg\na,z.jpg\n", ":4:", "duplicate stimulus_id 'a'");
  expect_manifest_error("stimulus_id,path\na,x.jpg\nb,y.jpg,extra\n", ":3:", "3 fields");
  expect_manifest_error("stimulus_id,path\n,x.jpg\n", ":2:", "empty stimulus_id");
  expect_manifest_error("stimulus_id,path\na,\n", ":2:", "empty path");
  expect_manifest_error("stimulus_id,path\na,\"x.jpg\n", ":2:", "unterminated");
  EXPECT_THROW(deepvox::read_manifest("/nonexistent/manifest.csv"), ManifestError);
}

TEST(Manifest, WriteThenRead) {
  const std::string path = write_temp("w.csv", "");
  deepvox::write_manifest(path, {"stimulus_id", "path", "category", "source"},
                          {{"s1", "a.jpg", "fish", "x, \"y\""}, {"s2", "b.jpg", "birds", "z"}});
  const auto m = deepvox::read_manifest(path);
  ASSERT_EQ(m.entries.size(), 2u);
  EXPECT_EQ(m.entries[0].fields.at("source"), "x, \"y\"");
  EXPECT_EQ(m.entries[1].category, "birds");
}

TEST(Brick, ContiguousAndChunkedReadTheSameRows) {
  std::ifstream raw(fixture("brick.raw"), std::ios::binary);
  std::vector<std::uint8_t> want(5 * 6 * 7 * 3);
  raw.read(reinterpret_cast<char*>(want.data()), static_cast<std::streamsize>(want.size()));
  deepvox::ImageBrick contiguous(fixture("brick.h5"));
  deepvox::ImageBrick chunked(fixture("brick_chunked.h5"), "images");
  EXPECT_TRUE(contiguous.thread_safe());
  EXPECT_FALSE(chunked.thread_safe());
  ASSERT_EQ(contiguous.size(), 5);
  EXPECT_EQ(contiguous.height(), 6);
  EXPECT_EQ(contiguous.width(), 7);
  for (int r = 0; r < 5; ++r) {
    const auto a = contiguous.read(r);
    const auto b = chunked.read(r);
    const std::vector<std::uint8_t> row(want.begin() + r * 126, want.begin() + (r + 1) * 126);
    EXPECT_EQ(a.pixels, row) << "row " << r;
    EXPECT_EQ(b.pixels, row) << "row " << r;
  }
  EXPECT_THROW(contiguous.read(5), ManifestError);
  EXPECT_EQ(contiguous.ids()[3], "000003");
}

TEST(Brick, NsdIdsByNameOrAttribute) {
  EXPECT_EQ(deepvox::ImageBrick(fixture("nsd_stimuli.hdf5")).ids(),
            (std::vector<std::string>{"nsd-00001", "nsd-00002", "nsd-00003"}));
  EXPECT_EQ(deepvox::ImageBrick(fixture("brick_attr.h5")).ids()[1], "nsd-00002");
  EXPECT_FALSE(deepvox::ImageBrick(fixture("brick.h5")).is_nsd());
}

TEST(Brick, BadBricksNameTheProblem) {
  try {
    deepvox::ImageBrick b(fixture("brick_float.h5"));
    FAIL();
  } catch (const ManifestError& e) {
    EXPECT_NE(std::string(e.what()).find("expected uint8"), std::string::npos) << e.what();
  }
  try {
    deepvox::ImageBrick b(fixture("brick.h5"), "nope");
    FAIL();
  } catch (const ManifestError& e) {
    EXPECT_NE(std::string(e.what()).find("no such dataset"), std::string::npos) << e.what();
  }
  EXPECT_THROW(deepvox::ImageBrick(fixture("rgb.png")), ManifestError);
}

TEST(StimulusSet, ManifestAndBrickBehindOneInterface) {
  const fs::path csv = fs::path(DEEPVOX_IMAGE_FIXTURES) / "set.csv";
  deepvox::write_manifest(csv.string(), {"stimulus_id", "path", "category"},
                          {{"p", "rgb.png", "demo"}, {"g", "gray.png", "demo"}});
  const auto set = deepvox::StimulusSet::open(csv.string());
  ASSERT_EQ(set.size(), 2);
  EXPECT_EQ(set.ids()[1], "g");
  EXPECT_EQ(set.categories()[0], "demo");
  EXPECT_EQ(set.load(0).width, 64);
  const auto brick = deepvox::StimulusSet::open(fixture("nsd_stimuli.hdf5"));
  EXPECT_TRUE(brick.is_brick());
  EXPECT_EQ(brick.ids()[0], "nsd-00001");
  EXPECT_EQ(brick.load(2).height, 6);
}
