#include "apiserver/kubeconfig.h"

#include <gtest/gtest.h>

namespace berth::apiserver {
namespace {

TEST(Kubeconfig, ServerUrlUsesLoopbackForUnspecifiedAddresses) {
  EXPECT_EQ(kubeconfigServerUrl("0.0.0.0", 6443), "https://127.0.0.1:6443");
  EXPECT_EQ(kubeconfigServerUrl("", 6443), "https://127.0.0.1:6443");
  EXPECT_EQ(kubeconfigServerUrl("::", 6443), "https://[::1]:6443");
  EXPECT_EQ(kubeconfigServerUrl("::1", 1), "https://[::1]:1");
  EXPECT_EQ(kubeconfigServerUrl("10.0.0.5", 443), "https://10.0.0.5:443");
  EXPECT_EQ(kubeconfigServerUrl("example.test", 443), "https://example.test:443");
}

TEST(Kubeconfig, Base64) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("foob"), "Zm9vYg==");
}

TEST(Kubeconfig, RendersOneClusterUserContext) {
  KubeconfigOptions o;
  o.host = "0.0.0.0";
  o.port = 6443;
  o.ca_pem = "foo";
  o.token = "t0k";
  std::string y = renderKubeconfig(o);
  EXPECT_NE(y.find("server: \"https://127.0.0.1:6443\""), std::string::npos) << y;
  EXPECT_NE(y.find("certificate-authority-data: Zm9v\n"), std::string::npos) << y;
  EXPECT_NE(y.find("token: \"t0k\""), std::string::npos) << y;
  EXPECT_NE(y.find("current-context: \"berth\""), std::string::npos) << y;
  EXPECT_EQ(y.find("insecure"), std::string::npos) << y;
}

}  // namespace
}  // namespace berth::apiserver
