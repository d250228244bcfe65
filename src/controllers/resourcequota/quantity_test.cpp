#include "controllers/resourcequota/quantity.h"

#include <gtest/gtest.h>

namespace berth::controllers {
namespace {

std::string canonical(const char* s) {
  auto q = Quantity::parse(s);
  return q ? q->toString() : "<invalid>";
}

std::string sum(std::initializer_list<const char*> parts) {
  Quantity total;
  for (const char* p : parts) {
    auto q = Quantity::parse(p);
    if (!q) return "<invalid>";
    total.add(*q);
  }
  return total.toString();
}

// Expected strings are what upstream's resource.Quantity String() prints.
TEST(QuantityTest, CanonicalForms) {
  EXPECT_EQ(canonical("500m"), "500m");
  EXPECT_EQ(canonical("1Gi"), "1Gi");
  EXPECT_EQ(canonical("1024Mi"), "1Gi");
  EXPECT_EQ(canonical("1.5Gi"), "1536Mi");
  EXPECT_EQ(canonical("1.5"), "1500m");
  EXPECT_EQ(canonical("0.1"), "100m");
  EXPECT_EQ(canonical("1000"), "1k");
  EXPECT_EQ(canonical("1.5k"), "1500");
  EXPECT_EQ(canonical("12e6"), "12e6");
  EXPECT_EQ(canonical("0"), "0");
  EXPECT_EQ(canonical("-2"), "-2");
  EXPECT_EQ(canonical("100Ki"), "100Ki");
  // Binary amounts under 1024 or fractional print in decimal.
  EXPECT_EQ(canonical("0.5Ki"), "512");
  EXPECT_EQ(canonical("1.5Mi"), "1536Ki");
  // Anything below a nano-unit rounds up to one.
  EXPECT_EQ(canonical("0.5n"), "1n");
}

TEST(QuantityTest, InvalidInput) {
  EXPECT_FALSE(Quantity::parse("abc"));
  EXPECT_FALSE(Quantity::parse(""));
  EXPECT_FALSE(Quantity::parse("1Xi"));
}

TEST(QuantityTest, SumsKeepTheFirstFormat) {
  EXPECT_EQ(sum({"250m", "250m"}), "500m");
  EXPECT_EQ(sum({"500m", "500m"}), "1");
  EXPECT_EQ(sum({"1", "500m"}), "1500m");
  EXPECT_EQ(sum({"512Mi", "512Mi"}), "1Gi");
  EXPECT_EQ(sum({"1Gi", "500Mi"}), "1524Mi");
  EXPECT_EQ(sum({"1Ki", "1"}), "1025");
  // A zero start takes the format of what is added (Quantity.Add).
  EXPECT_EQ(sum({"0", "1Gi"}), "1Gi");
  EXPECT_EQ(sum({"1G", "1Gi"}), "2073741824");
  EXPECT_EQ(Quantity().toString(), "0");
}

TEST(QuantityTest, JsonNumbersAndComparison) {
  EXPECT_EQ(Quantity::fromJson(boost::json::value(0.5))->toString(), "500m");
  EXPECT_EQ(Quantity::fromJson(boost::json::value(2))->toString(), "2");
  EXPECT_EQ(Quantity::fromJson(boost::json::value("3Mi"))->toString(), "3Mi");
  EXPECT_FALSE(Quantity::fromJson(boost::json::value(true)));
  EXPECT_EQ(Quantity::parse("1")->cmp(*Quantity::parse("1000m")), 0);
  EXPECT_EQ(Quantity::parse("1Ki")->cmp(*Quantity::parse("1k")), 1);
  EXPECT_EQ(Quantity::parse("999m")->cmp(*Quantity::parse("1")), -1);
  EXPECT_EQ(Quantity::fromInt(3).toString(), "3");
}

TEST(QuantityTest, RoundUpToUnits) {
  auto q = *Quantity::parse("1500m");
  EXPECT_FALSE(q.roundUpToUnits());
  EXPECT_EQ(q.toString(), "2");
  auto whole = *Quantity::parse("2Gi");
  EXPECT_TRUE(whole.roundUpToUnits());
  EXPECT_EQ(whole.toString(), "2Gi");
}

}  // namespace
}  // namespace berth::controllers
