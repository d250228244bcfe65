#include "common/url.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(UrlTest, PercentEncodeKeepsOnlyUnreserved) {
  EXPECT_EQ(percentEncode("abcXYZ019-._~"), "abcXYZ019-._~");
  EXPECT_EQ(percentEncode("repository:library/busybox:pull"),
            "repository%3Alibrary%2Fbusybox%3Apull");
  EXPECT_EQ(percentEncode("a b=c&d"), "a%20b%3Dc%26d");
  EXPECT_EQ(percentEncode(std::string("\xff\x00", 2)), "%FF%00");
  EXPECT_EQ(percentEncode(""), "");
}

}  // namespace
}  // namespace berth
