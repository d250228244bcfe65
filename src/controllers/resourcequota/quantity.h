#pragma once

// Exact resource quantities for quota usage, after upstream's
// k8s.io/apimachinery/pkg/api/resource.Quantity: values are kept in
// nano-units (the smallest amount upstream represents; finer inputs round up
// to it), sums keep the format of their first non-zero operand (Add), and
// String() renders the canonical form ("500m", "1536Mi", "1500m", "2").
// Quota status is compared and shown by users, so sums must be exact: the
// validation parser api::parseQuantity (a long double) checks the grammar,
// the value is then read digit by digit.

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace berth::controllers {

class Quantity {
 public:
  // resource.Format: from the suffix (Ki..Ei binary, e/E exponent, else
  // decimal SI). Zero-valued quantities take the format of what is added.
  enum class Format { kDecimalSI, kBinarySI, kDecimalExponent };

  Quantity() = default;
  // resource.NewQuantity(v, DecimalSI).
  static Quantity fromInt(int64_t v);
  // resource.ParseQuantity; nullopt when malformed.
  static std::optional<Quantity> parse(std::string_view s);
  // A quantity in JSON: a string, or a bare number (as upstream's
  // UnmarshalJSON accepts); nullopt when neither parses.
  static std::optional<Quantity> fromJson(const boost::json::value& v);

  // Quantity.Add.
  void add(const Quantity& other);
  // Quantity.Cmp: -1, 0, 1.
  int cmp(const Quantity& other) const;
  bool isZero() const { return nanos_ == 0; }
  Format format() const { return format_; }

  // Quantity.RoundUp(0): rounds up to a whole number of units; true when it
  // was already whole.
  bool roundUpToUnits();

  // Quantity.String(): the canonical form.
  std::string toString() const;

  bool operator==(const Quantity& other) const { return cmp(other) == 0; }

 private:
  __int128 nanos_ = 0;
  Format format_ = Format::kDecimalSI;
};

}  // namespace berth::controllers
