// The demo stimulus plan at its default size (2,000 images): categories, split, groups, licences, and
// rendering (masks, bounding boxes, determinism). No MPI, no network.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "import/demo_stimuli.h"
#include "import/virtual_subject.h"

using namespace deepvox::import;

namespace {

bool have_sources() {
  return std::ifstream("/usr/share/doc/tuxpaint-stamps-default/copyright").good() &&
         std::ifstream("/usr/share/doc/mate-backgrounds/copyright").good();
}

}  // namespace

TEST(DemoPlan, CategoriesSplitAndGroups) {
  if (!have_sources())
    GTEST_SKIP() << "tuxpaint-stamps-default / mate-backgrounds not installed (tools/setup.sh)";
  DemoOptions opt;  // defaults = configs/demo.yaml
  const DemoStimuli d = plan_demo_stimuli(opt);
  ASSERT_EQ(d.images.size(), 2000u);
  EXPECT_GE(d.category_names.size(), 8u);
  EXPECT_GE(d.test.size(), 100u);
  EXPECT_EQ(d.train.size() + d.test.size(), d.images.size());

  std::map<std::int64_t, int> per_category, test_per_category;
  std::map<std::int64_t, std::set<bool>> sides_of_group;
  std::map<std::int64_t, std::int64_t> category_of_group;
  for (const auto& im : d.images) {
    per_category[im.category]++;
    if (im.test) test_per_category[im.category]++;
    sides_of_group[im.group].insert(im.test);
    category_of_group[im.group] = im.category;
    EXPECT_EQ(d.stamps[im.group].category, im.category) << im.id;
  }
  for (std::size_t c = 0; c < d.category_names.size(); ++c) {
    EXPECT_NEAR(per_category[c], 2000.0 / d.category_names.size(), 1.0) << d.category_names[c];
    EXPECT_GT(test_per_category[c], 0) << "no test images of " << d.category_names[c];
  }
  for (const auto& [g, sides] : sides_of_group)
    EXPECT_EQ(sides.size(), 1u) << "group " << g << " on both sides";

  // Groups are contiguous in image order (so contiguous folds never split one).
  std::set<std::int64_t> finished;
  for (std::size_t i = 0; i < d.images.size(); ++i) {
    const auto g = d.images[i].group;
    EXPECT_EQ(finished.count(g), 0u) << "group " << g << " reappears at image " << i;
    if (i + 1 == d.images.size() || d.images[i + 1].group != g) finished.insert(g);
  }
  // Every source photo names its package and licence.
  for (const auto& s : d.stamps) {
    EXPECT_EQ(s.package, "tuxpaint-stamps-default") << s.path;
    EXPECT_NE(s.licence.find("GPL"), std::string::npos) << s.path << ": " << s.licence;
    EXPECT_FALSE(s.copyright.empty()) << s.path;
  }
  for (const auto& b : d.backgrounds) {
    EXPECT_EQ(b.package, "mate-backgrounds") << b.path;
    EXPECT_NE(b.licence.find("GPL"), std::string::npos) << b.path << ": " << b.licence;
  }
}

TEST(DemoPlan, SeedChangesAugmentationNotStructure) {
  if (!have_sources()) GTEST_SKIP();
  DemoOptions a, b;
  a.n_images = b.n_images = 400;
  a.test_images = b.test_images = 90;
  b.seed = 7;
  const DemoStimuli da = plan_demo_stimuli(a), da2 = plan_demo_stimuli(a), db = plan_demo_stimuli(b);
  ASSERT_EQ(da.images.size(), db.images.size());
  int same = 0;
  for (std::size_t i = 0; i < da.images.size(); ++i) {
    EXPECT_EQ(da.images[i].obj_x, da2.images[i].obj_x);  // deterministic
    same += da.images[i].obj_x == db.images[i].obj_x;
  }
  EXPECT_EQ(same, 0);
}

TEST(DemoRender, MaskAndBoxMatchTheObject) {
  if (!have_sources()) GTEST_SKIP();
  DemoOptions opt;
  opt.n_images = 90;
  opt.test_images = 18;
  opt.size = 128;
  const DemoStimuli d = plan_demo_stimuli(opt);
  const DemoRenderer renderer(d);
  for (std::size_t i = 0; i < d.images.size(); i += 10) {
    DemoImage im = d.images[i];
    std::vector<std::uint8_t> mask, mask2;
    const auto rgb = renderer.render(im, &mask, im.bbox);
    int box2[4];
    const auto rgb2 = renderer.render(im, &mask2, box2);
    EXPECT_EQ(rgb.pixels, rgb2.pixels) << "rendering is not deterministic";
    ASSERT_EQ(mask.size(), 128u * 128u);
    std::int64_t inside = 0;
    int x0 = 128, y0 = 128, x1 = 0, y1 = 0;
    for (int y = 0; y < 128; ++y)
      for (int x = 0; x < 128; ++x)
        if (mask[y * 128 + x]) {
          ++inside;
          x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x + 1), y1 = std::max(y1, y + 1);
        }
    // The object's longer side is obj_size (45-80%) of the image; masks are not empty or full.
    EXPECT_GT(inside, 128 * 128 / 50) << im.id;
    EXPECT_LT(inside, 128 * 128) << im.id;
    EXPECT_EQ(im.bbox[0], x0);
    EXPECT_EQ(im.bbox[1], y0);
    EXPECT_EQ(im.bbox[2], x1);
    EXPECT_EQ(im.bbox[3], y1);
    EXPECT_NEAR(std::max(x1 - x0, y1 - y0), im.obj_size * 128, 3.0) << im.id;
  }
}

TEST(TrialSchedule, RepeatsInDistinctSessions) {
  const std::vector<std::int64_t> test = {3, 7, 11};
  const auto t = schedule_trials(20, test, 4, 5, 3, 42);
  ASSERT_EQ(t.stimulus.size(), 17u + 3u * 4u);
  std::map<std::int64_t, std::set<std::int64_t>> sessions_of;
  std::map<std::int64_t, int> count;
  for (std::size_t k = 0; k < t.stimulus.size(); ++k) {
    sessions_of[t.stimulus[k]].insert(t.session[k]);
    count[t.stimulus[k]]++;
    EXPECT_GE(t.session[k], 1);
    EXPECT_LE(t.session[k], 5);
    EXPECT_GE(t.run[k], (t.session[k] - 1) * 3 + 1);  // runs numbered uniquely per session
    EXPECT_LE(t.run[k], t.session[k] * 3);
  }
  for (std::int64_t s : test) {
    EXPECT_EQ(count[s], 4);
    EXPECT_EQ(sessions_of[s].size(), 4u) << "repeats of " << s << " share a session";
  }
  EXPECT_EQ(count[0], 1);
}
