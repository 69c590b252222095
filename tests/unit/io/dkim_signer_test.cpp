// DKIM signing of a fixed message with a key generated per test run (no private key in the
// repository): the signature's tags, the body hash against a hand-canonicalized body, and
// verification by libopendkim's verifier (fed the public key through its key-lookup hook),
// including that tampering breaks it and relaxed re-folding does not. The independent check
// (python3-dkim) is in tests/integration/test_report_delivery.py. Key file rules: missing,
// unsafe modes, not a key, wrong algorithm, too short.
#include "io/dkim_signer.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include "io/opendkim.hpp"
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

namespace mtastsd::io {
namespace dkim_signer_test {

namespace fs = std::filesystem;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

constexpr std::int64_t kSigningTime = 1712026800;  // 2024-04-02T03:00:00Z

// Relaxed body canonicalization (RFC 6376 sec. 3.4.4) of kMessage's body, by hand:
// trailing spaces gone, space runs reduced to one, empty lines at the end gone.
constexpr std::string_view kCanonicalBody = "Hello world\r\n\r\nsecond paragraph\r\n";
const std::string kMessage =
    "From: tlsrpt-noreply@sender.example\r\n"
    "To: tlsrpt@example.com\r\n"
    "Subject: Report Domain: example.com Submitter: sender.example\r\n"
    " Report-ID: <20240401.a1b2c3.example.com@sender.example>\r\n"
    "Date: Tue, 02 Apr 2024 03:04:05 +0000\r\n"
    "Message-ID: <20240401.a1b2c3.example.com.0011223344556677@sender.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "TLS-Report-Domain: example.com\r\n"
    "TLS-Report-Submitter: sender.example\r\n"
    "TLS-Required: No\r\n"
    "X-Unsigned: not in the list\r\n"
    "\r\n"
    "Hello  world \r\n"
    "\r\n"
    "second   paragraph\r\n"
    "\r\n"
    "\r\n";

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

KeyPtr rsa_key(unsigned bits) { return KeyPtr(EVP_RSA_gen(bits), &EVP_PKEY_free); }

std::string private_pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// The DNS TXT record a domain publishes for the key (RFC 6376 sec. 3.6.1).
std::string key_record(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key, &der);
  EXPECT_GT(n, 0);
  std::string record = "v=DKIM1; k=rsa; p=" + base64(std::string_view(reinterpret_cast<char*>(der), n));
  OPENSSL_free(der);
  return record;
}

// "DKIM-Signature: a=...; b=..." unfolded, as tag -> value.
std::map<std::string, std::string> signature_tags(std::string_view signed_message) {
  std::string field(signed_message.substr(0, signed_message.find("\r\n", signed_message.find("b="))));
  for (std::size_t fold; (fold = field.find("\r\n")) != std::string::npos;) field.erase(fold, 2);
  field = field.substr(field.find(':') + 1);
  std::map<std::string, std::string> tags;
  for (std::size_t start = 0; start < field.size();) {
    std::size_t end = field.find(';', start);
    if (end == std::string::npos) end = field.size();
    std::string tag = field.substr(start, end - start);
    std::erase_if(tag, [](char c) { return c == ' ' || c == '\t'; });
    if (const std::size_t eq = tag.find('='); eq != std::string::npos) tags[tag.substr(0, eq)] = tag.substr(eq + 1);
    start = end + 1;
  }
  return tags;
}

// libopendkim's verifier, with the key record handed over through the key-lookup hook.
struct Verifier {
  static inline std::string record;

  static DKIM_CBSTAT lookup(DKIM*, DKIM_SIGINFO*, unsigned char* buf, size_t buflen) {
    if (record.size() + 1 > buflen) return DKIM_CBSTAT_ERROR;
    std::memcpy(buf, record.c_str(), record.size() + 1);
    return DKIM_CBSTAT_CONTINUE;
  }

  // True when the message carries a signature that verifies, body hash included.
  static bool verifies(const std::string& message, const std::string& key_record) {
    record = key_record;
    std::unique_ptr<DKIM_LIB, decltype(&dkim_close)> lib(dkim_init(nullptr, nullptr), &dkim_close);
    dkim_set_key_lookup(lib.get(), &Verifier::lookup);
    // The test signatures carry t= of 2024: tolerate their age.
    std::uint64_t now = static_cast<std::uint64_t>(kSigningTime + 60);
    dkim_options(lib.get(), DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &now, sizeof now);
    DKIM_STAT status = DKIM_STAT_OK;
    std::unique_ptr<DKIM, decltype(&dkim_free)> dkim(
        dkim_verify(lib.get(), reinterpret_cast<const unsigned char*>("test"), nullptr, &status), &dkim_free);
    if (!dkim) return false;
    std::string copy = message;
    if (dkim_chunk(dkim.get(), reinterpret_cast<unsigned char*>(copy.data()), copy.size()) != DKIM_STAT_OK ||
        dkim_chunk(dkim.get(), nullptr, 0) != DKIM_STAT_OK)
      return false;
    if (dkim_eom(dkim.get(), nullptr) != DKIM_STAT_OK) return false;
    DKIM_SIGINFO* signature = dkim_getsignature(dkim.get());
    return signature != nullptr && DKIM_SIG_CHECK(signature);
  }
};

class DkimSignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "dkim_signer_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write_key(const std::string& name, const std::string& text, mode_t mode = 0600) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    EXPECT_EQ(chmod(path.c_str(), mode), 0);
    return path;
  }

  DkimSettings settings(std::string key_file) const { return {std::move(key_file), "202404", "sender.example"}; }

  DkimError load_error(const DkimSettings& s) {
    auto signer = DkimSigner::load(s);
    EXPECT_FALSE(signer.has_value());
    return signer ? DkimError::signing_failed : signer.error().error;
  }

  fs::path dir_;
};

TEST_F(DkimSignerTest, SignatureCarriesTheRfc8460Parameters) {
  const KeyPtr key = rsa_key(2048);
  auto signer = DkimSigner::load(settings(write_key("key.pem", private_pem(key.get()))));
  ASSERT_TRUE(signer.has_value()) << signer.error().detail;
  auto signed_message = signer->sign(kMessage, util::from_unix(kSigningTime));
  ASSERT_TRUE(signed_message.has_value()) << signed_message.error().detail;
  ASSERT_TRUE(signed_message->starts_with("DKIM-Signature: "));
  EXPECT_TRUE(signed_message->ends_with(kMessage)) << "the message itself is unchanged";

  const auto tags = signature_tags(*signed_message);
  EXPECT_EQ(tags.at("v"), "1");
  EXPECT_EQ(tags.at("a"), "rsa-sha256");
  EXPECT_EQ(tags.at("c"), "relaxed/relaxed");
  EXPECT_EQ(tags.at("d"), "sender.example");
  EXPECT_EQ(tags.at("s"), "202404");
  EXPECT_EQ(tags.at("t"), std::to_string(kSigningTime));
  EXPECT_FALSE(tags.contains("l")) << "RFC 8460 sec. 5.3: no body length limit";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(kCanonicalBody.data()), kCanonicalBody.size(), digest);
  EXPECT_EQ(tags.at("bh"), base64(std::string_view(reinterpret_cast<char*>(digest), sizeof digest)));

  std::string signed_headers = ":" + tags.at("h") + ":";
  std::ranges::transform(signed_headers, signed_headers.begin(), [](unsigned char c) { return std::tolower(c); });
  for (std::string_view name : kSignedHeaders) {
    std::string lower(name);
    std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return std::tolower(c); });
    const std::string item = ":" + lower + ":";
    const std::size_t first = signed_headers.find(item);
    ASSERT_NE(first, std::string::npos) << name << " not signed: " << tags.at("h");
    EXPECT_NE(signed_headers.find(item, first + 1), std::string::npos) << name << " not oversigned";
  }
  EXPECT_FALSE(signed_headers.contains(":x-unsigned:"));
  for (std::size_t i = 1; i < signed_message->size(); ++i) {
    if ((*signed_message)[i] == '\n') {
      EXPECT_EQ((*signed_message)[i - 1], '\r') << "bare LF at " << i;
    }
  }
}

TEST_F(DkimSignerTest, VerifiesAndTamperingBreaksIt) {
  const KeyPtr key = rsa_key(2048);
  auto signer = DkimSigner::load(settings(write_key("key.pem", private_pem(key.get()))));
  ASSERT_TRUE(signer.has_value()) << signer.error().detail;
  const std::string signed_message = signer->sign(kMessage, util::from_unix(kSigningTime)).value();
  const std::string record = key_record(key.get());
  EXPECT_TRUE(Verifier::verifies(signed_message, record));

  const auto replaced = [&](std::string_view from, std::string_view to) {
    std::string copy = signed_message;
    const std::size_t at = copy.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return copy.replace(at, from.size(), to);
  };
  EXPECT_FALSE(Verifier::verifies(replaced("TLS-Report-Domain: example.com", "TLS-Report-Domain: example.org"),
                                  record));
  EXPECT_FALSE(Verifier::verifies(replaced("second   paragraph", "third paragraph"), record));
  EXPECT_FALSE(Verifier::verifies(replaced("TLS-Required: No\r\n", "TLS-Required: No\r\nSubject: added\r\n"), record))
      << "oversigning: a second Subject breaks the signature";
  EXPECT_FALSE(Verifier::verifies(signed_message, key_record(rsa_key(2048).get()))) << "another key";
  // Relaxed canonicalization: re-folded headers and re-spaced body lines still verify.
  EXPECT_TRUE(Verifier::verifies(replaced("To: tlsrpt@example.com", "To:\r\n   tlsrpt@example.com"), record));
  EXPECT_TRUE(Verifier::verifies(replaced("second   paragraph", "second paragraph  "), record));
  // Unsigned fields may change.
  EXPECT_TRUE(Verifier::verifies(replaced("X-Unsigned: not in the list", "X-Unsigned: changed"), record));
}

TEST_F(DkimSignerTest, SameMessageAndTimeGiveTheSameSignature) {
  const KeyPtr key = rsa_key(2048);
  auto signer = DkimSigner::load(settings(write_key("key.pem", private_pem(key.get()))));
  ASSERT_TRUE(signer.has_value());
  const auto first = signer->sign(kMessage, util::from_unix(kSigningTime));
  const auto second = signer->sign(kMessage, util::from_unix(kSigningTime));
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(*first, *second);
  const auto later = signer->sign(kMessage, util::from_unix(kSigningTime + 1));
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(signature_tags(*later).at("t"), std::to_string(kSigningTime + 1));
}

TEST_F(DkimSignerTest, KeyFileChecks) {
  const KeyPtr key = rsa_key(2048);
  const std::string pem = private_pem(key.get());
  EXPECT_EQ(load_error(settings((dir_ / "missing.pem").string())), DkimError::key_missing);
  EXPECT_EQ(load_error(settings(dir_.string())), DkimError::key_unreadable) << "a directory";
  EXPECT_EQ(load_error(settings(write_key("world.pem", pem, 0644))), DkimError::key_unsafe_permissions);
  EXPECT_EQ(load_error(settings(write_key("group-writable.pem", pem, 0660))), DkimError::key_unsafe_permissions);
  EXPECT_EQ(load_error(settings(write_key("world-writable.pem", pem, 0602))), DkimError::key_unsafe_permissions);
  EXPECT_TRUE(DkimSigner::load(settings(write_key("group-readable.pem", pem, 0640))).has_value())
      << "root:mtastsd 0640 is the usual way to share a key with the daemon's group";
  EXPECT_EQ(load_error(settings(write_key("garbage.pem", "not a key\n"))), DkimError::key_invalid);
  EXPECT_EQ(load_error(settings(write_key("empty.pem", ""))), DkimError::key_invalid);
  EXPECT_EQ(load_error(settings(write_key("big.pem", std::string(kMaxKeyFileSize + 1, 'x')))),
            DkimError::key_unreadable);
  const KeyPtr ec(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  EXPECT_EQ(load_error(settings(write_key("ec.pem", private_pem(ec.get())))), DkimError::key_invalid);
  EXPECT_EQ(load_error(settings(write_key("short.pem", private_pem(rsa_key(768).get())))), DkimError::key_invalid);

  auto missing = DkimSigner::load(settings((dir_ / "missing.pem").string()));
  ASSERT_FALSE(missing.has_value());
  EXPECT_TRUE(missing.error().detail.contains("missing.pem")) << "the error names the file";
  auto unsafe = DkimSigner::load(settings(write_key("unsafe.pem", pem, 0644)));
  ASSERT_FALSE(unsafe.has_value());
  EXPECT_TRUE(unsafe.error().detail.contains("0644")) << unsafe.error().detail;
}

TEST_F(DkimSignerTest, SelectorAndDomainMustBeDnsNames) {
  const std::string path = write_key("key.pem", private_pem(rsa_key(2048).get()));
  for (const auto& [selector, domain] : std::initializer_list<std::pair<const char*, const char*>>{
           {"", "sender.example"}, {"a b", "sender.example"}, {"sel;x", "sender.example"},
           {"s", ""}, {"s", "sender example"}, {"s", "192.0.2.1"}}) {
    EXPECT_EQ(load_error(DkimSettings{path, selector, domain}), DkimError::bad_selector) << selector << " " << domain;
  }
  EXPECT_TRUE(DkimSigner::load(DkimSettings{path, "mail.2024", "sender.example"}).has_value());
}

}  // namespace dkim_signer_test
}  // namespace mtastsd::io
