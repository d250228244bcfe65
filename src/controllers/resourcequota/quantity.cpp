#include "controllers/resourcequota/quantity.h"

#include <cctype>
#include <cstdio>

#include "api/kinds/pod_spec.h"

namespace berth::controllers {

namespace {

using Int = __int128;

constexpr Int kNanosPerUnit = 1000000000;
// Beyond this the nano-unit value could overflow; no quota is that large
// (1e28 units is 10^10 exa).
constexpr Int kLimit = static_cast<Int>(1e18) * static_cast<Int>(1e19);

std::string toDecimal(Int v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  if (neg) v = -v;
  std::string s;
  while (v > 0) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  }
  return neg ? "-" + s : s;
}

// Multiplies by 10^exp, rounding away from zero when exp < 0 (inf.RoundUp,
// as ParseQuantity rounds to nano-units). False on overflow.
bool scalePow10(Int& v, int exp) {
  for (; exp > 0; --exp) {
    if (v > kLimit / 10 || v < -kLimit / 10) return false;
    v *= 10;
  }
  if (exp < 0) {
    Int div = 1;
    for (; exp < 0 && div < kLimit; ++exp) div *= 10;
    if (exp < 0) {
      v = v == 0 ? 0 : (v > 0 ? 1 : -1);
      return true;
    }
    Int q = v / div, r = v % div;
    if (r != 0) q += v > 0 ? 1 : -1;
    v = q;
  }
  return true;
}

const char* decimalSuffix(int exp) {
  switch (exp) {
    case -9:
      return "n";
    case -6:
      return "u";
    case -3:
      return "m";
    case 0:
      return "";
    case 3:
      return "k";
    case 6:
      return "M";
    case 9:
      return "G";
    case 12:
      return "T";
    case 15:
      return "P";
    case 18:
      return "E";
  }
  return nullptr;
}

}  // namespace

Quantity Quantity::fromInt(int64_t v) {
  Quantity q;
  q.nanos_ = static_cast<Int>(v) * kNanosPerUnit;
  return q;
}

std::optional<Quantity> Quantity::parse(std::string_view s) {
  // The grammar is the validation parser's; the value is read exactly here.
  if (!api::parseQuantity(std::string(s))) return std::nullopt;
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  Int mantissa = 0;
  int scale = 0;
  bool in_fraction = false;
  for (; i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.'); ++i) {
    if (s[i] == '.') {
      in_fraction = true;
      continue;
    }
    if (mantissa > kLimit / 10) return std::nullopt;
    mantissa = mantissa * 10 + (s[i] - '0');
    if (in_fraction) --scale;
  }
  std::string_view suffix = s.substr(i);
  Quantity q;
  int exp10 = 0;
  int binary_shift = 0;
  static constexpr std::pair<std::string_view, int> kBinary[] = {
      {"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}, {"Pi", 50}, {"Ei", 60}};
  static constexpr std::pair<std::string_view, int> kDecimal[] = {
      {"n", -9}, {"u", -6}, {"m", -3}, {"", 0},   {"k", 3},
      {"M", 6},  {"G", 9},  {"T", 12}, {"P", 15}, {"E", 18}};
  bool known = false;
  for (const auto& [sfx, shift] : kBinary)
    if (suffix == sfx) {
      binary_shift = shift;
      q.format_ = Format::kBinarySI;
      known = true;
    }
  for (const auto& [sfx, e] : kDecimal)
    if (suffix == sfx) {
      exp10 = e;
      known = true;
    }
  if (!known) {
    // An exponent: e3, E-2, e+6.
    exp10 = std::atoi(std::string(suffix.substr(1)).c_str());
    q.format_ = Format::kDecimalExponent;
  }
  for (int b = 0; b < binary_shift; b += 10) {
    if (mantissa > kLimit / 1024) return std::nullopt;
    mantissa *= 1024;
  }
  if (!scalePow10(mantissa, scale + exp10 + 9)) return std::nullopt;
  q.nanos_ = negative ? -mantissa : mantissa;
  return q;
}

std::optional<Quantity> Quantity::fromJson(const boost::json::value& v) {
  if (v.is_string()) return parse(v.get_string());
  if (v.is_int64()) return parse(std::to_string(v.get_int64()));
  if (v.is_uint64()) return parse(std::to_string(v.get_uint64()));
  if (v.is_double()) {
    // The number as JSON wrote it, without an exponent (upstream parses the
    // raw bytes, e.g. 0.5 -> "500m").
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9f", v.get_double());
    std::string text = buf;
    while (!text.empty() && text.back() == '0') text.pop_back();
    if (!text.empty() && text.back() == '.') text.pop_back();
    return parse(text);
  }
  return std::nullopt;
}

void Quantity::add(const Quantity& other) {
  if (nanos_ == 0) format_ = other.format_;
  nanos_ += other.nanos_;
}

int Quantity::cmp(const Quantity& other) const {
  if (nanos_ < other.nanos_) return -1;
  return nanos_ > other.nanos_ ? 1 : 0;
}

bool Quantity::roundUpToUnits() {
  Int r = nanos_ % kNanosPerUnit;
  if (r == 0) return true;
  nanos_ += (nanos_ > 0 ? kNanosPerUnit : 0) - r;
  return false;
}

std::string Quantity::toString() const {
  if (nanos_ == 0) return "0";
  Int v = nanos_ < 0 ? -nanos_ : nanos_;
  std::string sign = nanos_ < 0 ? "-" : "";
  Format format = format_;
  if (format == Format::kBinarySI && (v < 1024 * kNanosPerUnit || v % kNanosPerUnit != 0)) {
    // Small or fractional binary amounts print in decimal, so nothing is
    // rounded (CanonicalizeBytes).
    format = Format::kDecimalSI;
  }
  if (format == Format::kBinarySI) {
    // AsCanonicalBase1024Bytes.
    static const char* kSuffixes[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    Int units = v / kNanosPerUnit;
    int exp = 0;
    while (exp < 6 && units % 1024 == 0) {
      units /= 1024;
      ++exp;
    }
    return sign + toDecimal(units) + kSuffixes[exp];
  }
  // AsCanonicalBytes: strip factors of ten, then step the exponent down to a
  // multiple of three.
  int exp = -9;
  while (v % 10 == 0) {
    v /= 10;
    ++exp;
  }
  switch (exp % 3) {
    case 1:
    case -2:
      v *= 10;
      exp -= 1;
      break;
    case 2:
    case -1:
      v *= 100;
      exp -= 2;
      break;
  }
  if (format == Format::kDecimalExponent)
    return sign + toDecimal(v) + (exp == 0 ? "" : "e" + std::to_string(exp));
  while (exp > 18) {
    v *= 10;
    --exp;
  }
  return sign + toDecimal(v) + decimalSuffix(exp);
}

}  // namespace berth::controllers
