// DNS rdata as libunbound hands it over (io/dns_rdata: TXT, MX, A, AAAA, TLSA),
// the input being one record's rdata decoded as each type. The TXT text is what
// the _mta-sts and _smtp._tls record parsers see; MX names become mx_host
// checks and probes. Properties: TXT text is the character-strings joined, so
// cutting it into strings of at most 255 octets again gives rdata that decodes to
// the same text; an MX name is "." or non-empty labels of lowercase letters,
// digits, '-', '_' and \DDD escapes (no octet can smuggle in a '.'), at most
// 255 octets on the wire; addresses are inet_ntop text that reads back to the
// rdata; decode_records accounts for every rdata once.
#include <arpa/inet.h>
#include <cstring>
#include <string>
#include <vector>
#include "fuzz_support.hpp"
#include "io/dns_rdata.hpp"

namespace {

using namespace mtastsd::io;

void check_txt(Rdata rdata) {
  const auto text = txt_from_rdata(rdata);
  if (!text) return;
  FUZZ_CHECK(text->size() < rdata.size());
  std::vector<std::uint8_t> wire;
  for (std::size_t pos = 0; pos < text->size(); pos += 255) {
    const std::size_t n = std::min<std::size_t>(255, text->size() - pos);
    wire.push_back(static_cast<std::uint8_t>(n));
    wire.insert(wire.end(), text->begin() + pos, text->begin() + pos + n);
  }
  if (wire.empty()) wire.push_back(0);  // one empty character-string
  FUZZ_CHECK(txt_from_rdata(wire) == text);
}

bool is_label_text(std::string_view label) {
  if (label.empty()) return false;
  for (std::size_t i = 0; i < label.size(); ++i) {
    const char c = label[i];
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') continue;
    if (c != '\\' || label.size() - i < 4) return false;
    for (std::size_t k = 1; k <= 3; ++k)
      if (label[i + k] < '0' || label[i + k] > '9') return false;
    i += 3;
  }
  return true;
}

void check_mx(Rdata rdata) {
  const auto mx = mx_from_rdata(rdata);
  if (!mx) return;
  FUZZ_CHECK(mx->preference == (rdata[0] << 8 | rdata[1]));
  FUZZ_CHECK(rdata.size() - 2 <= 255);
  if (mx->exchange == ".") return;
  std::string_view rest = mx->exchange;
  std::size_t labels = 0;
  while (true) {
    const std::size_t dot = rest.find('.');
    FUZZ_CHECK(is_label_text(rest.substr(0, dot)));
    ++labels;
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  // The wire form: one length octet per label and the root label.
  FUZZ_CHECK(labels + 1 <= rdata.size() - 2);
}

void check_address(int family, std::size_t size, const std::optional<std::string>& text, Rdata rdata) {
  FUZZ_CHECK(text.has_value() == (rdata.size() == size));
  if (!text) return;
  std::uint8_t back[16];
  FUZZ_CHECK(inet_pton(family, text->c_str(), back) == 1 && std::memcmp(back, rdata.data(), size) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Rdata rdata(data, size);
  check_txt(rdata);
  check_mx(rdata);
  check_address(AF_INET, 4, a_from_rdata(rdata), rdata);
  check_address(AF_INET6, 16, aaaa_from_rdata(rdata), rdata);
  if (const auto tlsa = tlsa_from_rdata(rdata)) FUZZ_CHECK(tlsa->size() >= 2 * (size - 3));
  for (const int type : {rrtype::a, rrtype::mx, rrtype::txt, rrtype::aaaa, rrtype::tlsa, 99}) {
    const DecodedRecords decoded = decode_records(type, {rdata, rdata});
    FUZZ_CHECK(decoded.records.size() + decoded.malformed == 2);
    FUZZ_CHECK(decoded.mx_preferences.size() == (type == rrtype::mx ? decoded.records.size() : 0));
  }
  return 0;
}
