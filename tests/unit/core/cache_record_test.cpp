// Cache record encoding: every field survives a round trip; records of the JSON
// formats 1 and 2 still decode; corrupt input of any kind decodes to
// CacheRecordCorrupt instead of throwing or crashing.
#include "core/cache_record.hpp"

#include <functional>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include "util/byte_codec.hpp"

namespace mtastsd::core {
namespace cache_record_test {

using util::from_unix;

CacheRecord full_record() {
  CacheRecord r;
  r.policy_id = "20240101T000000";
  r.policy_text = "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n";
  r.policy.mode = StsMode::enforce;
  r.policy.max_age = 604800;
  r.policy.mx = {"mx1.example.com", "*.example.net"};
  r.policy.lines = {"version: STSv1", "mode: enforce", "mx: mx1.example.com", "mx: *.example.net",
                    "max_age: 604800"};
  r.fetched_at = from_unix(1700000000);
  r.valid_until = from_unix(1700604800);
  r.last_id_check = from_unix(1700000300);
  r.last_txt_id = "20240202";
  r.last_used = from_unix(1700000100);
  r.negative_until = from_unix(1700000060);
  r.failure = FailureType::sts_webpki_invalid;
  r.failure_detail = "certificate has expired";
  r.failed_id = "20240202";
  r.failed_at = from_unix(1700000200);
  r.next_retry = from_unix(1700000500);
  r.consecutive_failures = 7;
  r.dane = DaneState{DaneVerdict::dane, "1 of 2 MX hosts have usable TLSA records", from_unix(1700000400),
                     from_unix(1700000700), {{"mx1.example.com", true}, {"mx2.example.com", false}}};
  return r;
}

void expect_equal(const DaneState& a, const DaneState& b) {
  EXPECT_EQ(a.verdict, b.verdict);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.checked_at, b.checked_at);
  EXPECT_EQ(a.valid_until, b.valid_until);
  EXPECT_EQ(a.hosts, b.hosts);
}

void expect_equal(const CacheRecord& a, const CacheRecord& b) {
  EXPECT_EQ(a.policy_id, b.policy_id);
  EXPECT_EQ(a.policy_text, b.policy_text);
  EXPECT_EQ(a.policy.mode, b.policy.mode);
  EXPECT_EQ(a.policy.max_age, b.policy.max_age);
  EXPECT_EQ(a.policy.mx, b.policy.mx);
  EXPECT_EQ(a.policy.lines, b.policy.lines);
  EXPECT_EQ(a.fetched_at, b.fetched_at);
  EXPECT_EQ(a.valid_until, b.valid_until);
  EXPECT_EQ(a.last_id_check, b.last_id_check);
  EXPECT_EQ(a.last_txt_id, b.last_txt_id);
  EXPECT_EQ(a.last_used, b.last_used);
  EXPECT_EQ(a.negative_until, b.negative_until);
  EXPECT_EQ(a.failure, b.failure);
  EXPECT_EQ(a.failure_detail, b.failure_detail);
  EXPECT_EQ(a.failed_id, b.failed_id);
  EXPECT_EQ(a.failed_at, b.failed_at);
  EXPECT_EQ(a.next_retry, b.next_retry);
  EXPECT_EQ(a.consecutive_failures, b.consecutive_failures);
  ASSERT_EQ(a.dane.has_value(), b.dane.has_value());
  if (a.dane) expect_equal(*a.dane, *b.dane);
}

// A record as format 2 wrote it (JSON), for the upgrade tests.
nlohmann::json legacy_json(const CacheRecord& r) {
  using util::to_unix;
  nlohmann::json dane = nullptr;
  if (r.dane) {
    nlohmann::json hosts = nlohmann::json::array();
    for (const auto& h : r.dane->hosts) hosts.push_back({{"host", h.host}, {"usable_tlsa", h.usable_tlsa}});
    dane = {{"verdict", to_string(r.dane->verdict)}, {"reason", r.dane->reason},
            {"checked_at", to_unix(r.dane->checked_at)}, {"valid_until", to_unix(r.dane->valid_until)},
            {"hosts", hosts}};
  }
  return {{"v", 2},
          {"policy_id", r.policy_id},
          {"policy_text", r.policy_text},
          {"policy", {{"mode", to_string(r.policy.mode)}, {"max_age", r.policy.max_age}, {"mx", r.policy.mx},
                      {"lines", r.policy.lines}}},
          {"fetched_at", to_unix(r.fetched_at)},
          {"valid_until", to_unix(r.valid_until)},
          {"last_id_check", to_unix(r.last_id_check)},
          {"last_txt_id", r.last_txt_id},
          {"last_used", to_unix(r.last_used)},
          {"negative_until", to_unix(r.negative_until)},
          {"failure", r.failure ? nlohmann::json(to_string(*r.failure)) : nlohmann::json(nullptr)},
          {"failure_detail", r.failure_detail},
          {"failed_id", r.failed_id},
          {"failed_at", to_unix(r.failed_at)},
          {"next_retry", to_unix(r.next_retry)},
          {"consecutive_failures", r.consecutive_failures},
          {"dane", dane}};
}

TEST(CacheRecord, RoundTripsEveryField) {
  const CacheRecord r = full_record();
  const auto decoded = decode_cache_record(encode_cache_record(r));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
  expect_equal(*decoded, r);
}

TEST(CacheRecord, RoundTripsEmptyRecordAndEveryMode) {
  const auto empty = decode_cache_record(encode_cache_record(CacheRecord{}));
  ASSERT_TRUE(empty.has_value()) << empty.error().detail;
  expect_equal(*empty, CacheRecord{});
  EXPECT_FALSE(empty->failure.has_value());

  for (StsMode mode : {StsMode::enforce, StsMode::testing, StsMode::none}) {
    CacheRecord r = full_record();
    r.policy.mode = mode;
    const auto decoded = decode_cache_record(encode_cache_record(r));
    ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
    EXPECT_EQ(decoded->policy.mode, mode);
  }
}

TEST(CacheRecord, RoundTripsEveryDaneVerdictAndNoDaneState) {
  for (DaneVerdict v : {DaneVerdict::not_applicable, DaneVerdict::dane, DaneVerdict::dane_only,
                        DaneVerdict::temp_error}) {
    CacheRecord r = full_record();
    r.dane->verdict = v;
    const auto decoded = decode_cache_record(encode_cache_record(r));
    ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
    EXPECT_EQ(decoded->dane->verdict, v);
  }
  CacheRecord none = full_record();
  none.dane.reset();
  const auto decoded = decode_cache_record(encode_cache_record(none));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
  EXPECT_FALSE(decoded->dane.has_value());
}

// Records written before DANE (format 1) stay readable after an upgrade.
TEST(CacheRecord, Format2DecodesWithEveryField) {
  const auto decoded = decode_cache_record(legacy_json(full_record()).dump());
  ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
  expect_equal(*decoded, full_record());
}

TEST(CacheRecord, Format1DecodesWithoutDaneState) {
  auto j = legacy_json(full_record());
  j["v"] = 1;
  j.erase("dane");
  const auto decoded = decode_cache_record(j.dump());
  ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
  CacheRecord expected = full_record();
  expected.dane.reset();
  expect_equal(*decoded, expected);
}

TEST(CacheRecord, RoundTripsEveryFailureType) {
  for (FailureType t : {FailureType::sts_policy_fetch_error, FailureType::sts_policy_invalid,
                        FailureType::sts_webpki_invalid, FailureType::validation_failure}) {
    CacheRecord r;
    r.failure = t;
    const auto decoded = decode_cache_record(encode_cache_record(r));
    ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
    EXPECT_EQ(decoded->failure, t);
  }
}

TEST(CacheRecord, EncodingIsVersionedBinary) {
  const std::string bytes = encode_cache_record(full_record());
  ASSERT_FALSE(bytes.empty());
  EXPECT_EQ(static_cast<unsigned char>(bytes.front()), kCacheRecordFormat);
  EXPECT_LT(bytes.size(), legacy_json(full_record()).dump().size() / 2 + 200);
}

// A body that is exactly its lines, each ended by LF, is rebuilt from them; any
// other body (CRLF, blank lines, no final LF) is stored as it came.
TEST(CacheRecord, PolicyTextIsStoredOnlyWhenItIsNotItsLines) {
  CacheRecord lf = full_record();
  lf.policy_text = "version: STSv1\nmode: enforce\nmx: mx1.example.com\nmx: *.example.net\nmax_age: 604800\n";
  const std::string lf_bytes = encode_cache_record(lf);
  const std::string crlf_bytes = encode_cache_record(full_record());
  EXPECT_LE(lf_bytes.size() + lf.policy_text.size(), crlf_bytes.size());
  for (const std::string& text : {lf.policy_text, full_record().policy_text, std::string("version: STSv1\n\nmode: enforce\n"),
                                  std::string("version: STSv1\nmode: enforce"), std::string()}) {
    CacheRecord r = full_record();
    r.policy_text = text;
    const auto decoded = decode_cache_record(encode_cache_record(r));
    ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
    EXPECT_EQ(decoded->policy_text, text);
  }
}

TEST(CacheRecord, AnyBytesInStringsRoundTrip) {
  CacheRecord r;
  using namespace std::string_literals;
  r.failure_detail = "bad \xff\xfe bytes \0 and a NUL"s;  // all 24 bytes, the NUL too
  const auto decoded = decode_cache_record(encode_cache_record(r));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
  EXPECT_EQ(decoded->failure_detail, r.failure_detail);
}

// A format 2 record after `edit` changed its JSON form.
std::string edited(const std::function<void(nlohmann::json&)>& edit) {
  auto j = legacy_json(full_record());
  edit(j);
  return j.dump();
}

void expect_corrupt(std::string_view bytes, std::string_view detail_part) {
  const auto decoded = decode_cache_record(bytes);
  ASSERT_FALSE(decoded.has_value()) << "accepted: " << bytes;
  EXPECT_NE(decoded.error().detail.find(detail_part), std::string::npos) << decoded.error().detail;
}

TEST(CacheRecord, GarbageIsCorrupt) {
  expect_corrupt("", "empty record");
  expect_corrupt(std::string("\x00\x01\x02garbage", 10), "unsupported record format 0");
  expect_corrupt("this is not a cache record", "unsupported record format 116");
  expect_corrupt("{\"v\":1,", "not valid JSON");
  expect_corrupt("{}[1,2,3]", "not valid JSON");
  expect_corrupt("{\"v\":1}", "missing field");
  expect_corrupt(std::string(2u << 20, ' '), "larger than");
}

// Every proper prefix of a valid record, and a valid one with a byte more, is corrupt.
TEST(CacheRecord, TruncatedOrExtendedBinaryIsCorrupt) {
  const std::string bytes = encode_cache_record(full_record());
  for (std::size_t n = 1; n < bytes.size(); ++n) expect_corrupt(bytes.substr(0, n), "field ");
  expect_corrupt(bytes + '\0', "after its last field");
}

// Whatever a flipped byte does, decoding returns a record or an error and never throws.
TEST(CacheRecord, EveryByteFlipDecodesOrIsCorrupt) {
  const std::string bytes = encode_cache_record(full_record());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (unsigned char x : {0x01, 0x80, 0xff}) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(static_cast<unsigned char>(flipped[i]) ^ x);
      EXPECT_NO_THROW((void)decode_cache_record(flipped)) << "byte " << i;
    }
  }
}

// Hand-built format 3 records with one field wrong.
std::string binary_record(const std::function<void(util::ByteWriter&)>& after_flags, std::uint64_t flags = 0) {
  util::ByteWriter w;
  w.u8(kCacheRecordFormat);
  w.varint(flags);
  after_flags(w);
  return w.take();
}

TEST(CacheRecord, BadBinaryFieldsAreCorrupt) {
  expect_corrupt(binary_record([](auto&) {}, 1u << 7), "field flags: out of range");
  expect_corrupt(binary_record([](auto& w) { w.varint(std::uint64_t{1} << 40); }), "field fetched_at: out of range");
  const auto times = [](util::ByteWriter& w) {
    for (int i = 0; i < 7; ++i) w.varint(1700000000);
  };
  expect_corrupt(binary_record([&](auto& w) {
                   times(w);
                   w.varint(std::uint64_t{1} << 32);
                 }),
                 "field consecutive_failures: out of range");
  expect_corrupt(binary_record([&](auto& w) {
                   times(w);
                   w.varint(0);
                   w.bytes("id");
                   w.bytes("text");
                   w.bytes("strict");
                 }),
                 "field mode: unknown value \"strict\"");
  // A length far beyond the record: refused without allocating it.
  expect_corrupt(binary_record([&](auto& w) {
                   times(w);
                   w.varint(0);
                   w.varint(std::uint64_t{1} << 40);
                 }),
                 "field policy_id: truncated");
  // An eleven-byte varint.
  expect_corrupt(binary_record([](auto& w) {
                   for (int i = 0; i < 10; ++i) w.u8(0x80);
                   w.u8(0);
                 }),
                 "field fetched_at: truncated");
}

TEST(CacheRecord, WrongVersionIsCorrupt) {
  expect_corrupt(std::string(1, static_cast<char>(kCacheRecordFormat + 1)), "unsupported record format 4");
  expect_corrupt(edited([](auto& j) { j["v"] = kCacheRecordFormat; }), "unsupported record format 3 (expected 1 or 2)");
  expect_corrupt(edited([](auto& j) { j["v"] = 0; }), "unsupported record format 0 (expected 1 or 2)");
  expect_corrupt(edited([](auto& j) { j["v"] = "1"; }), "\"v\" is not an integer");
  expect_corrupt(edited([](auto& j) { j.erase("v"); }), "missing field \"v\"");
}

TEST(CacheRecord, EveryMissingFieldIsCorrupt) {
  const auto j = legacy_json(full_record());
  for (const auto& [key, value] : j.items()) {
    expect_corrupt(edited([&](auto& e) { e.erase(key); }), "missing field \"" + key + "\"");
  }
  for (const char* key : {"mode", "max_age", "mx", "lines"}) {
    expect_corrupt(edited([&](auto& e) { e["policy"].erase(key); }), std::string("missing field \"") + key + "\"");
  }
  for (const char* key : {"verdict", "reason", "checked_at", "valid_until", "hosts"}) {
    expect_corrupt(edited([&](auto& e) { e["dane"].erase(key); }), std::string("missing field \"") + key + "\"");
  }
  for (const char* key : {"host", "usable_tlsa"}) {
    expect_corrupt(edited([&](auto& e) { e["dane"]["hosts"][0].erase(key); }),
                   std::string("missing field \"") + key + "\"");
  }
}

TEST(CacheRecord, WrongTypesAreCorrupt) {
  expect_corrupt(edited([](auto& j) { j["policy_id"] = 5; }), "\"policy_id\" is not a string");
  expect_corrupt(edited([](auto& j) { j["valid_until"] = "tomorrow"; }), "\"valid_until\" is not an integer");
  expect_corrupt(edited([](auto& j) { j["valid_until"] = 1.5; }), "\"valid_until\" is not an integer");
  expect_corrupt(edited([](auto& j) { j["policy"] = "enforce"; }), "\"policy\" is not an object");
  expect_corrupt(edited([](auto& j) { j["policy"]["mx"] = "mx.example.com"; }), "\"mx\" is not an array");
  expect_corrupt(edited([](auto& j) { j["policy"]["lines"] = {"a", 1}; }), "\"lines\" holds a non-string");
  expect_corrupt(edited([](auto& j) { j["failure"] = 3; }), "\"failure\" is neither null nor a string");
  expect_corrupt(edited([](auto& j) { j["dane"] = "dane"; }), "\"dane\" is neither null nor an object");
  expect_corrupt(edited([](auto& j) { j["dane"]["hosts"] = "mx1"; }), "\"dane.hosts\" is not an array");
  expect_corrupt(edited([](auto& j) { j["dane"]["hosts"] = nlohmann::json::array({"mx1"}); }),
                 "\"dane.hosts\" holds a non-object");
  expect_corrupt(edited([](auto& j) { j["dane"]["hosts"][0]["usable_tlsa"] = 1; }),
                 "\"usable_tlsa\" is not a boolean");
  expect_corrupt(edited([](auto& j) { j["dane"]["valid_until"] = "soon"; }), "\"valid_until\" is not an integer");
}

TEST(CacheRecord, OutOfRangeAndUnknownValuesAreCorrupt) {
  expect_corrupt(edited([](auto& j) { j["policy"]["mode"] = "strict"; }), "unknown policy mode \"strict\"");
  expect_corrupt(edited([](auto& j) { j["failure"] = "tls-broken"; }), "unknown failure type \"tls-broken\"");
  expect_corrupt(edited([](auto& j) { j["dane"]["verdict"] = "dane-only"; }), "unknown DANE verdict \"dane-only\"");
  expect_corrupt(edited([](auto& j) { j["dane"]["checked_at"] = -1; }), "\"checked_at\" out of range");
  expect_corrupt(edited([](auto& j) { j["policy"]["max_age"] = kMaxAgeLimit + 1; }), "\"max_age\" out of range");
  expect_corrupt(edited([](auto& j) { j["policy"]["max_age"] = -1; }), "\"max_age\" out of range");
  expect_corrupt(edited([](auto& j) { j["fetched_at"] = -5; }), "\"fetched_at\" out of range");
  expect_corrupt(edited([](auto& j) { j["next_retry"] = std::uint64_t{1} << 63; }), "\"next_retry\" out of range");
  expect_corrupt(edited([](auto& j) { j["consecutive_failures"] = std::int64_t{1} << 32; }),
                 "\"consecutive_failures\" out of range");
}

TEST(CacheRecord, UnknownExtraFieldsAreIgnored) {
  const auto decoded = decode_cache_record(edited([](auto& j) { j["comment"] = "added by hand"; }));
  ASSERT_TRUE(decoded.has_value()) << decoded.error().detail;
  expect_equal(*decoded, full_record());
}

}  // namespace cache_record_test
}  // namespace mtastsd::core
