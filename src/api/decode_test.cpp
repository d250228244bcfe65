#include "api/decode.h"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kSchema = R"(
type t.Meta
  name          string        1
  labels        map[string]  11
  created       time          8

type t.Deploy
  kind          string        0  noproto
  apiVersion    string        0  noproto
  metadata      t.Meta        1
  spec          t.Spec        2

type t.Spec
  replicas      int32         1  keep
  big           int64         2
  paused        bool          3
  ratio         double        4
  data          bytes         5
  containers    []t.Container 6
  limits        map[quantity] 7
  port          intorstr      8
  raw           any           9
  anyMap        map[any]     10
  source        t.Source     11  inline
  renew         microtime    12

type t.Container
  name          string        1  keep
  image         string        2
  ports         []int32       3

type t.Source
  emptyDir      t.Empty       1  keep

type t.Empty
)";

const SchemaRegistry& registry() {
  static const SchemaRegistry r = [] {
    SchemaRegistry reg;
    EXPECT_TRUE(reg.add("t.schema", kSchema).ok());
    EXPECT_TRUE(reg.resolve().ok());
    return reg;
  }();
  return r;
}
const SchemaType* deploy() { return registry().find("t.Deploy").get(); }

Result<DecodedJson> decode(std::string_view body, FieldValidation mode = FieldValidation::kStrict) {
  DecodeOptions o;
  o.validation = mode;
  return decodeJson(body, deploy(), o);
}

std::string errorOf(std::string_view body, FieldValidation mode = FieldValidation::kStrict) {
  auto d = decode(body, mode);
  if (d.ok()) return "ok: " + json::serialize(d->value);
  EXPECT_EQ(d.error().code, ErrorCode::kBadRequest);
  return d.error().message;
}

TEST(DecodeJson, ValidObjectPassesUnchanged) {
  std::string body =
      R"({"kind":"Deploy","apiVersion":"t/v1","metadata":{"name":"a","labels":{"x":"y"},"created":"2024-01-02T03:04:05Z"},)"
      R"("spec":{"replicas":3,"big":9007199254740993,"paused":false,"ratio":1.5,"data":"aGk=",)"
      R"("containers":[{"name":"c","image":"i","ports":[80]}],"limits":{"cpu":"500m","memory":"1Gi"},)"
      R"("port":"http","raw":{"anything":[1,{"goes":true}]},"anyMap":{"k":[1]},"emptyDir":{},)"
      R"("renew":"2024-01-02T03:04:05.123456+02:00"}})";
  auto d = decode(body);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_TRUE(d->warnings.empty());
  EXPECT_EQ(d->value, json::parse(body));
}

TEST(DecodeJson, StrictUnknownAndDuplicateFields) {
  EXPECT_EQ(errorOf(R"({"metadata":{"name":"a","name":"b"},"spec":{"foo":1,"containers":[{"name":"c"},{"imagee":"x"}]},"top":1})"),
            "strict decoding error: unknown field \"spec.foo\", unknown field \"spec.containers[1].imagee\", "
            "unknown field \"top\", duplicate field \"metadata.name\"");
  // Duplicates inside lists carry the index.
  EXPECT_EQ(errorOf(R"({"spec":{"containers":[{"name":"a"},{"name":"b","name":"c"}]}})"),
            "strict decoding error: duplicate field \"spec.containers[1].name\"");
  // Unknown fields inside an inline member's type are found too.
  EXPECT_EQ(errorOf(R"({"spec":{"emptyDir":{"medium":"Memory"}}})"),
            "strict decoding error: unknown field \"spec.emptyDir.medium\"");
}

TEST(DecodeJson, FindingsAreDedupedAndCapped) {
  EXPECT_EQ(errorOf(R"({"metadata":{"name":"a","name":"b","name":"c"}})"),
            "strict decoding error: duplicate field \"metadata.name\"");
  std::string body = "{";
  for (int i = 0; i < 150; ++i) body += "\"f" + std::to_string(i) + "\":1,";
  body += "\"kind\":\"x\"}";
  auto d = decode(body, FieldValidation::kWarn);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->warnings.size(), 100u);
  EXPECT_EQ(json::serialize(d->value), R"({"kind":"x"})");
}

TEST(DecodeJson, KindPrefixMatchesUpstreamWording) {
  DecodeOptions o;
  o.kind = "Deployment";
  o.version = "v1";
  auto d = decodeJson(R"({"spec":{"foo":1}})", deploy(), o);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message,
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field "
            "\"spec.foo\"");
}

TEST(DecodeJson, WarnReturnsWarningsAndDropsUnknown) {
  auto d = decode(R"({"metadata":{"name":"a","name":"b","x":1},"spec":{"foo":1,"replicas":2}})", FieldValidation::kWarn);
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->warnings, (std::vector<std::string>{"unknown field \"metadata.x\"", "unknown field \"spec.foo\"",
                                                   "duplicate field \"metadata.name\""}));
  // The last duplicate wins, as in Go; unknown fields are gone.
  EXPECT_EQ(json::serialize(d->value), R"({"metadata":{"name":"b"},"spec":{"replicas":2}})");
}

TEST(DecodeJson, IgnoreDropsSilently) {
  auto d = decode(R"({"metadata":{"name":"a","name":"b"},"spec":{"foo":1}})", FieldValidation::kIgnore);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->warnings.empty());
  EXPECT_EQ(json::serialize(d->value), R"({"metadata":{"name":"b"},"spec":{}})");
}

TEST(DecodeJson, NullFieldsAreDropped) {
  auto d = decode(R"({"metadata":{"name":"a","created":null},"spec":{"raw":null,"containers":[null]}})");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(json::serialize(d->value), R"({"metadata":{"name":"a"},"spec":{"raw":null,"containers":[null]}})");
}

TEST(DecodeJson, TypeErrorsFailInEveryMode) {
  for (auto mode : {FieldValidation::kStrict, FieldValidation::kWarn, FieldValidation::kIgnore}) {
    EXPECT_EQ(errorOf(R"({"spec":{"replicas":"3"}})", mode),
              "json: cannot unmarshal string into Go struct field Spec.spec.replicas of type int32");
  }
  EXPECT_EQ(errorOf(R"({"spec":{"containers":{"name":"a"}}})"),
            "json: cannot unmarshal object into Go struct field Spec.spec.containers of type []t.Container");
  EXPECT_EQ(errorOf(R"({"spec":{"containers":[{"image":7}]}})"),
            "json: cannot unmarshal number into Go struct field Container.spec.containers.image of type string");
  EXPECT_EQ(errorOf(R"({"spec":{"replicas":3000000000}})"),
            "json: cannot unmarshal number 3000000000 into Go struct field Spec.spec.replicas of type int32");
  EXPECT_EQ(errorOf(R"({"spec":{"replicas":1.5}})"),
            "json: cannot unmarshal number 1.5 into Go struct field Spec.spec.replicas of type int32");
  EXPECT_EQ(errorOf(R"({"spec":{"big":18446744073709551615}})"),
            "json: cannot unmarshal number 18446744073709551615 into Go struct field Spec.spec.big of type int64");
  EXPECT_EQ(errorOf(R"({"spec":{"paused":"true"}})"),
            "json: cannot unmarshal string into Go struct field Spec.spec.paused of type bool");
  EXPECT_EQ(errorOf(R"({"metadata":{"labels":{"a":1}}})"),
            "json: cannot unmarshal number into Go struct field Meta.metadata.labels of type string");
  EXPECT_EQ(errorOf(R"({"metadata":"x"})"),
            "json: cannot unmarshal string into Go struct field Deploy.metadata of type t.Meta");
  EXPECT_EQ(errorOf(R"([1])"), "json: cannot unmarshal array into Go value of type t.Deploy");
  EXPECT_EQ(errorOf(R"({"spec":{"data":"a*=="}})"), "illegal base64 data at input byte 1");
  EXPECT_EQ(errorOf(R"({"metadata":{"created":"yesterday"}})"),
            "parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as RFC 3339");
  EXPECT_EQ(errorOf(R"({"metadata":{"created":5}})"), "json: cannot unmarshal number into Go value of type string");
  EXPECT_EQ(errorOf(R"({"spec":{"limits":{"cpu":"lots"}}})"),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
  EXPECT_EQ(errorOf(R"({"spec":{"port":1.5}})"), "json: cannot unmarshal number 1.5 into Go value of type int32");
  EXPECT_EQ(errorOf(R"({"spec":{"port":true}})"), "json: cannot unmarshal bool into Go value of type int32");
  // A type error wins over strict findings, as upstream returns it first.
  EXPECT_EQ(errorOf(R"({"spec":{"foo":1,"replicas":"x"}})"),
            "json: cannot unmarshal string into Go struct field Spec.spec.replicas of type int32");
}

TEST(DecodeJson, QuantitiesAndIntOrString) {
  auto d = decode(R"({"spec":{"limits":{"cpu":1,"memory":1.5,"a":"1e3","b":"-2Ki","c":".5"},"port":8080}})");
  ASSERT_TRUE(d.ok()) << d.error().message;
  // Numeric quantities are stored as strings, as resource.Quantity serializes.
  EXPECT_EQ(json::serialize(d->value),
            R"({"spec":{"limits":{"cpu":"1","memory":"1.5","a":"1e3","b":"-2Ki","c":".5"},"port":8080}})");
  EXPECT_NE(errorOf(R"({"spec":{"limits":{"cpu":"1Kb"}}})").find("quantities must match"), std::string::npos);
  EXPECT_NE(errorOf(R"({"spec":{"limits":{"cpu":"1.2.3"}}})").find("quantities must match"), std::string::npos);
  EXPECT_NE(errorOf(R"({"spec":{"port":4294967296}})").find("into Go value of type int32"), std::string::npos);
}

TEST(DecodeJson, SyntaxSizeAndDepthLimits) {
  EXPECT_NE(errorOf("{").find("couldn't get version/kind; json parse error"), std::string::npos);
  EXPECT_NE(errorOf("{} x").find("json parse error"), std::string::npos);
  EXPECT_NE(errorOf("").find("json parse error"), std::string::npos);
  std::string deep(600, '[');
  deep += std::string(600, ']');
  EXPECT_NE(errorOf(R"({"spec":{"raw":)" + deep + "}}").find("json parse error"), std::string::npos);
  DecodeOptions o;
  o.max_bytes = 10;
  auto d = decodeJson(R"({"metadata":{}})", deploy(), o);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ErrorCode::kRequestEntityTooLarge);
}

TEST(DecodeJson, NoSchemaStillDetectsDuplicates) {
  auto d = decodeJson(R"({"a":{"b":1,"b":2},"c":[{"d":1,"d":1}]})", nullptr, {});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message,
            "strict decoding error: duplicate field \"a.b\", duplicate field \"c[0].d\"");
  auto ok = decodeJson(R"({"a":{"b":1},"x":"y"})", nullptr, {});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(json::serialize(ok->value), R"({"a":{"b":1},"x":"y"})");
}

TEST(DecodeJson, CheckJsonFieldsOnADom) {
  json::value v = json::parse(R"({"metadata":{"name":"a","zzz":1},"spec":{"containers":[{"name":"c","bad":2}]}})");
  auto strict = checkJsonFields(v, *deploy(), FieldValidation::kStrict, "Deploy", "t/v1");
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.error().message,
            "Deploy in version \"t/v1\" cannot be handled as a Deploy: strict decoding error: unknown field "
            "\"metadata.zzz\", unknown field \"spec.containers[0].bad\"");
  // Even a failed strict check has removed the unknown fields.
  EXPECT_EQ(json::serialize(v), R"({"metadata":{"name":"a"},"spec":{"containers":[{"name":"c"}]}})");
  v = json::parse(R"({"metadata":{"name":"a","zzz":1},"spec":{"containers":[{"name":"c","bad":2}]}})");
  auto warn = checkJsonFields(v, *deploy(), FieldValidation::kWarn);
  ASSERT_TRUE(warn.ok());
  EXPECT_EQ(warn->size(), 2u);
  EXPECT_EQ(json::serialize(v), R"({"metadata":{"name":"a"},"spec":{"containers":[{"name":"c"}]}})");
}

TEST(DecodeJson, RemoveUnknownFields) {
  json::value v = json::parse(
      R"({"kind":"Deploy","x":1,"spec":{"raw":{"keep":"me"},"anyMap":{"k":{"also":1}},"containers":[{"name":"c","y":2}],"emptyDir":{"z":3}}})");
  removeUnknownFields(v, *deploy());
  EXPECT_EQ(json::serialize(v),
            R"({"kind":"Deploy","spec":{"raw":{"keep":"me"},"anyMap":{"k":{"also":1}},"containers":[{"name":"c"}],"emptyDir":{}}})");
}

TEST(DecodeJson, ParseFieldValidation) {
  EXPECT_EQ(*parseFieldValidation("Strict"), FieldValidation::kStrict);
  EXPECT_EQ(*parseFieldValidation("Warn"), FieldValidation::kWarn);
  EXPECT_EQ(*parseFieldValidation(""), FieldValidation::kWarn);
  EXPECT_EQ(*parseFieldValidation("Ignore"), FieldValidation::kIgnore);
  auto bad = parseFieldValidation("strict");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kBadRequest);
}

TEST(DecodeJson, BuiltinDeploymentStrict) {
  auto type = SchemaRegistry::builtin().find("apps.v1.Deployment");
  ASSERT_TRUE(type);
  std::string body = R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","creationTimestamp":null},
    "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
    "spec":{"containers":[{"name":"nginx","image":"nginx","ports":[{"containerPort":80}],"resources":{"limits":{"cpu":"1"}},
    "imagee":"x"}],"volumes":[{"name":"v","emptyDir":{}}]}}}})";
  DecodeOptions o;
  o.kind = "Deployment";
  o.version = "v1";
  auto d = decodeJson(body, type.get(), o);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().message,
            "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field "
            "\"spec.template.spec.containers[0].imagee\"");
  o.validation = FieldValidation::kWarn;
  auto w = decodeJson(body, type.get(), o);
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->warnings, std::vector<std::string>{"unknown field \"spec.template.spec.containers[0].imagee\""});
  EXPECT_FALSE(w->value.at("metadata").as_object().contains("creationTimestamp"));
}

}  // namespace
}  // namespace berth::api
