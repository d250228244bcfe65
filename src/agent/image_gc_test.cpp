#include "agent/image_gc.h"

#include <gtest/gtest.h>

#include "common/clock.h"
#include "runtime/image/image_store.h"
#include "runtime/pod/container_manager.h"

namespace berth::agent {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using Ids = std::vector<std::string>;

const TimePoint kT0 = std::chrono::system_clock::from_time_t(1700000000);

ImageInfo image(const std::string& id, uint64_t size, TimePoint first_seen,
                TimePoint last_used = TimePoint{}) {
  return ImageInfo{id, {"docker.io/library/" + id + ":latest"}, size, last_used, first_seen};
}

TEST(ImageGcTest, BytesToFreeUsesIntegerPercentAndLowThreshold) {
  ImageGcPolicy policy;
  // 85% used: free down to 80% (200 bytes available).
  EXPECT_EQ(bytesToFree(1000, 150, policy), 50u);
  // 84.9% used reads as 85 (100 - int(15.1)), as upstream rounds.
  EXPECT_EQ(bytesToFree(1000, 151, policy), 49u);
  EXPECT_EQ(bytesToFree(1000, 160, policy), 0u);
  EXPECT_EQ(bytesToFree(1000, 0, policy), 200u);
  EXPECT_EQ(bytesToFree(0, 0, policy), 0u);
  EXPECT_EQ(bytesToFree(1000, 5000, policy), 0u);
  ImageGcPolicy strict{50, 40, seconds(0)};
  EXPECT_EQ(bytesToFree(1000, 500, strict), 100u);
  EXPECT_EQ(bytesToFree(1000, 501, strict), 99u);  // 100 - int(50.1) = 50: still at high
  EXPECT_EQ(bytesToFree(1000, 510, strict), 0u);
}

TEST(ImageGcTest, LeastRecentlyUsedFirstThenFirstSeen) {
  TimePoint now = kT0 + minutes(60);
  std::vector<ImageInfo> images{
      image("a", 30, kT0, now - minutes(10)),  // used ten minutes ago
      image("c", 30, kT0 + minutes(30)),       // never used, seen later
      image("b", 30, kT0),                     // never used, seen first
      image("d", 30, kT0, now - minutes(20)),  // used twenty minutes ago
  };
  EXPECT_EQ(selectImagesToFree(1000, images, {}, {}, now), (Ids{"b", "c", "d", "a"}));
  // Stops as soon as enough is freed.
  EXPECT_EQ(selectImagesToFree(31, images, {}, {}, now), (Ids{"b", "c"}));
  EXPECT_EQ(selectImagesToFree(30, images, {}, {}, now), (Ids{"b"}));
  EXPECT_TRUE(selectImagesToFree(0, images, {}, {}, now).empty());
}

TEST(ImageGcTest, InUseAndJustUsedImagesAreKept) {
  TimePoint now = kT0 + minutes(60);
  std::vector<ImageInfo> images{image("old", 100, kT0), image("running", 100, kT0),
                                image("now", 100, kT0, now)};
  EXPECT_EQ(selectImagesToFree(1000, images, {"running"}, {}, now), (Ids{"old"}));
}

TEST(ImageGcTest, ImagesYoungerThanMinAgeAreKept) {
  TimePoint now = kT0 + minutes(60);
  std::vector<ImageInfo> images{image("young", 500, now - seconds(119)),
                                image("exactly", 10, now - seconds(120)), image("old", 10, kT0)};
  // Never used, so ordered by first sight.
  EXPECT_EQ(selectImagesToFree(1000, images, {}, {}, now), (Ids{"old", "exactly"}));
  ImageGcPolicy no_min_age{85, 80, seconds(0)};
  EXPECT_EQ(selectImagesToFree(1000, images, {}, no_min_age, now),
            (Ids{"old", "exactly", "young"}));
}

TEST(ImageGcTest, ImagesToCollectOnlyAboveHighThreshold) {
  TimePoint now = kT0 + minutes(60);
  std::vector<ImageInfo> images{image("x", 40, kT0), image("y", 40, kT0 + minutes(1)),
                                image("z", 40, kT0 + minutes(2))};
  EXPECT_TRUE(imagesToCollect(1000, 200, images, {}, {}, now).empty());
  // 90% used: 100 bytes to free, three images of 40.
  EXPECT_EQ(imagesToCollect(1000, 100, images, {}, {}, now), (Ids{"x", "y", "z"}));
  // 86% used: 60 bytes.
  EXPECT_EQ(imagesToCollect(1000, 140, images, {}, {}, now), (Ids{"x", "y"}));
  EXPECT_EQ(imagesToCollect(1000, 140, images, {"x"}, {}, now), (Ids{"y", "z"}));
}

TEST(ImageGcTest, FailureMessageText) {
  EXPECT_EQ(freeDiskSpaceFailedMessage(524288000, 1024),
            "Failed to garbage collect required amount of images. Attempted to free 524288000 "
            "bytes, but only found 1024 bytes eligible to free.");
}

TEST(ImageGcTest, ObserveRemembersFirstSeenAndLastUsed) {
  FakeClock clock(kT0);
  ImageGc gc;
  std::vector<ImageInfo> listed{{"a", {"a:1"}, 10, {}, {}}, {"b", {"b:1"}, 20, {}, {}}};
  auto first = gc.observe(listed, {"b"}, clock.now());
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].first_seen, kT0);
  EXPECT_EQ(first[0].last_used, TimePoint{});
  EXPECT_EQ(first[1].last_used, kT0);

  clock.advance(minutes(5));
  auto second = gc.observe(listed, {"a"}, clock.now());
  EXPECT_EQ(second[0].first_seen, kT0);
  EXPECT_EQ(second[0].last_used, kT0 + minutes(5));
  EXPECT_EQ(second[1].first_seen, kT0);
  EXPECT_EQ(second[1].last_used, kT0);  // b is no longer in use: keeps its last use

  // An image that disappears is forgotten; when it comes back it is new.
  clock.advance(minutes(1));
  gc.observe({listed[1]}, {}, clock.now());
  clock.advance(minutes(1));
  auto back = gc.observe(listed, {}, clock.now());
  EXPECT_EQ(back[0].first_seen, kT0 + minutes(7));
  EXPECT_EQ(back[0].last_used, TimePoint{});
  EXPECT_EQ(back[1].first_seen, kT0);
}

// A fake image store: removal records the id, or fails for listed ids.
struct FakeRemover {
  std::vector<std::string> removed;
  std::set<std::string> failing;
  ImageGc::RemoveFn fn() {
    return [this](const ImageInfo& image) -> Status {
      if (failing.count(image.id))
        return makeError(ErrorCode::kConflict, "cannot remove " + image.id);
      removed.push_back(image.id);
      return okStatus();
    };
  }
};

TEST(ImageGcTest, GarbageCollectWaitsForMinAgeThenFreesLeastRecentlyUsed) {
  FakeClock clock(kT0);
  ImageGc gc;
  FakeRemover store;
  std::vector<ImageInfo> listed{{"old", {"old:1"}, 60, {}, {}},
                                {"used", {"used:1"}, 60, {}, {}},
                                {"busy", {"busy:1"}, 500, {}, {}}};
  // First sight: nothing may go yet; the shortfall is FreeDiskSpaceFailed
  // but not yet ImageGCFailed.
  auto first = gc.garbageCollect(1000, 100, listed, {"used", "busy"}, clock.now(), store.fn());
  EXPECT_TRUE(store.removed.empty());
  EXPECT_EQ(first.required, 100u);
  EXPECT_EQ(first.freed, 0u);
  EXPECT_EQ(first.error, freeDiskSpaceFailedMessage(100, 0));
  ASSERT_EQ(first.events.size(), 1u);
  EXPECT_EQ(first.events[0].first, "FreeDiskSpaceFailed");

  // Two minutes later "used" has stopped: both unused images are old
  // enough, "old" (never used) goes first; 120 bytes reach the 100.
  clock.advance(minutes(2));
  auto second = gc.garbageCollect(1000, 100, listed, {"busy"}, clock.now(), store.fn());
  EXPECT_EQ(store.removed, (Ids{"old", "used"}));
  EXPECT_EQ(second.removed, (Ids{"old", "used"}));
  EXPECT_EQ(second.freed, 120u);
  EXPECT_TRUE(second.error.empty());
  EXPECT_TRUE(second.events.empty());

  // Below the high threshold nothing happens.
  clock.advance(minutes(5));
  auto third = gc.garbageCollect(1000, 900, listed, {}, clock.now(), store.fn());
  EXPECT_EQ(third.required, 0u);
  EXPECT_TRUE(third.removed.empty());
  EXPECT_EQ(store.removed.size(), 2u);
}

TEST(ImageGcTest, RepeatedFailureRaisesImageGcFailed) {
  FakeClock clock(kT0);
  ImageGc gc;
  FakeRemover store;
  std::vector<ImageInfo> listed{{"busy", {"busy:1"}, 900, {}, {}}};
  auto first = gc.garbageCollect(1000, 50, listed, {"busy"}, clock.now(), store.fn());
  ASSERT_EQ(first.events.size(), 1u);
  clock.advance(minutes(5));
  auto second = gc.garbageCollect(1000, 50, listed, {"busy"}, clock.now(), store.fn());
  ASSERT_EQ(second.events.size(), 2u);
  EXPECT_EQ(second.events[0].first, "FreeDiskSpaceFailed");
  EXPECT_EQ(second.events[1].first, "ImageGCFailed");
  EXPECT_EQ(second.events[1].second, freeDiskSpaceFailedMessage(150, 0));
  // A success resets the streak.
  clock.advance(minutes(5));
  EXPECT_TRUE(
      gc.garbageCollect(1000, 500, listed, {"busy"}, clock.now(), store.fn()).events.empty());
  clock.advance(minutes(5));
  auto again = gc.garbageCollect(1000, 50, listed, {"busy"}, clock.now(), store.fn());
  ASSERT_EQ(again.events.size(), 1u);
  EXPECT_EQ(again.events[0].first, "FreeDiskSpaceFailed");
}

TEST(ImageGcTest, FailedRemovalTriesTheNextImage) {
  FakeClock clock(kT0);
  ImageGc gc({85, 80, seconds(0)});
  FakeRemover store;
  store.failing = {"a"};
  std::vector<ImageInfo> listed{{"a", {}, 100, {}, {}}, {"b", {}, 100, {}, {}}};
  // Neither used, both first seen now: listing order decides, "a" first.
  auto out = gc.garbageCollect(1000, 100, listed, {}, clock.now(), store.fn());
  EXPECT_EQ(store.removed, (Ids{"b"}));
  EXPECT_EQ(out.freed, 100u);
  EXPECT_EQ(out.error,
            "wanted to free 100 bytes, but freed 100 bytes space with errors in image deletion: "
            "cannot remove a");
  EXPECT_TRUE(out.events.empty());
}

TEST(ImageGcTest, ZeroCapacityIsInvalid) {
  ImageGc gc;
  FakeRemover store;
  auto out = gc.garbageCollect(0, 0, {}, {}, kT0, store.fn());
  EXPECT_EQ(out.error, "invalid capacity 0 on image filesystem");
  ASSERT_EQ(out.events.size(), 1u);
  EXPECT_EQ(out.events[0].first, "InvalidDiskCapacity");
}

TEST(ImageGcTest, AdaptersGroupTagsAndCollectContainerImages) {
  runtime::ImageRecord busybox;
  busybox.name = "docker.io/library/busybox:latest";
  busybox.config = runtime::Digest::of("busybox config");
  busybox.size = 4096;
  runtime::ImageRecord tagged = busybox;
  tagged.name = "docker.io/library/busybox:1.36";
  runtime::ImageRecord untagged;
  untagged.config = runtime::Digest::of("other config");
  untagged.size = 10;
  auto images = imagesFromRecords({busybox, tagged, untagged});
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0].id, busybox.config.str());
  EXPECT_EQ(images[0].names,
            (Ids{"docker.io/library/busybox:latest", "docker.io/library/busybox:1.36"}));
  EXPECT_EQ(images[0].size, 4096u);
  EXPECT_TRUE(images[1].names.empty());

  runtime::ContainerInfo running, exited, unknown;
  running.image_id = busybox.config.str();
  running.state = runtime::ContainerState::kRunning;
  exited.image_id = untagged.config.str();
  exited.state = runtime::ContainerState::kExited;
  auto in_use = inUseImageIds({running, exited, unknown});
  EXPECT_EQ(in_use, (std::set<std::string>{busybox.config.str(), untagged.config.str()}));
}

}  // namespace
}  // namespace berth::agent
