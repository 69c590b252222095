// Rdata decoding for A, AAAA, MX, TXT and TLSA. Names are decoded from the
// uncompressed wire form only (libunbound decompresses rdata names); a
// compression pointer or any length running past the rdata is malformed.
#include "io/dns_rdata.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include "util/ascii.hpp"

namespace mtastsd::io {
namespace {

constexpr std::size_t kMaxLabel = 63;     // RFC 1035 sec. 2.3.4
constexpr std::size_t kMaxWireName = 255;  // RFC 1035 sec. 2.3.4, including the root label

bool is_plain_label_char(std::uint8_t c) { return util::is_alnum(static_cast<char>(c)) || c == '-' || c == '_'; }

// Decodes the wire name starting at `pos`, advancing `pos` past it. Letters are
// lowercased; any octet other than letter, digit, '-' or '_' is written as
// "\DDD" (RFC 1035 sec. 5.1) so a label can never smuggle in a '.'.
std::optional<std::string> name_from_wire(Rdata rdata, std::size_t& pos) {
  std::string text;
  const std::size_t start = pos;
  while (true) {
    if (pos >= rdata.size()) return std::nullopt;
    const std::size_t len = rdata[pos];
    if (len > kMaxLabel) return std::nullopt;  // compression pointer (0xC0) or reserved label type
    if (pos - start + 1 + len > kMaxWireName) return std::nullopt;
    ++pos;
    if (len == 0) break;
    if (rdata.size() - pos < len) return std::nullopt;
    if (!text.empty()) text += '.';
    for (std::size_t i = 0; i < len; ++i) {
      const std::uint8_t c = rdata[pos + i];
      if (is_plain_label_char(c))
        text += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      else
        text += fmt::format("\\{:03}", c);
    }
    pos += len;
  }
  if (text.empty()) return ".";
  return text;
}

std::optional<std::string> address_from_rdata(int family, Rdata rdata, std::size_t size) {
  if (rdata.size() != size) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(family, rdata.data(), buf, sizeof buf) == nullptr) return std::nullopt;
  return std::string(buf);
}

}  // namespace

std::optional<std::string> txt_from_rdata(Rdata rdata) {
  if (rdata.empty()) return std::nullopt;  // at least one <character-string>
  std::string text;
  std::size_t pos = 0;
  while (pos < rdata.size()) {
    const std::size_t len = rdata[pos++];
    if (rdata.size() - pos < len) return std::nullopt;
    text.append(reinterpret_cast<const char*>(rdata.data() + pos), len);
    pos += len;
  }
  return text;
}

std::optional<std::string> a_from_rdata(Rdata rdata) { return address_from_rdata(AF_INET, rdata, 4); }

std::optional<std::string> aaaa_from_rdata(Rdata rdata) { return address_from_rdata(AF_INET6, rdata, 16); }

std::optional<MxRdata> mx_from_rdata(Rdata rdata) {
  if (rdata.size() < 3) return std::nullopt;  // preference + at least the root label
  MxRdata mx;
  mx.preference = static_cast<std::uint16_t>(rdata[0] << 8 | rdata[1]);
  std::size_t pos = 2;
  auto exchange = name_from_wire(rdata, pos);
  if (!exchange || pos != rdata.size()) return std::nullopt;
  mx.exchange = std::move(*exchange);
  return mx;
}

std::optional<std::string> tlsa_from_rdata(Rdata rdata) {
  if (rdata.size() < 4) return std::nullopt;  // usage, selector, mtype, >= 1 octet of data
  std::string text = fmt::format("{} {} {} ", rdata[0], rdata[1], rdata[2]);
  for (std::size_t i = 3; i < rdata.size(); ++i) text += fmt::format("{:02x}", rdata[i]);
  return text;
}

DecodedRecords decode_records(int type, const std::vector<Rdata>& rdatas) {
  DecodedRecords out;
  if (type == rrtype::mx) {
    std::vector<MxRdata> mxs;
    for (Rdata rdata : rdatas) {
      if (auto mx = mx_from_rdata(rdata))
        mxs.push_back(std::move(*mx));
      else
        ++out.malformed;
    }
    std::stable_sort(mxs.begin(), mxs.end(),
                     [](const MxRdata& a, const MxRdata& b) { return a.preference < b.preference; });
    for (auto& mx : mxs) {
      out.records.push_back(std::move(mx.exchange));
      out.mx_preferences.push_back(mx.preference);
    }
    return out;
  }
  std::optional<std::string> (*decode)(Rdata) = nullptr;
  switch (type) {
    case rrtype::a: decode = a_from_rdata; break;
    case rrtype::aaaa: decode = aaaa_from_rdata; break;
    case rrtype::txt: decode = txt_from_rdata; break;
    case rrtype::tlsa: decode = tlsa_from_rdata; break;
    default: out.malformed = rdatas.size(); return out;
  }
  for (Rdata rdata : rdatas) {
    if (auto text = decode(rdata))
      out.records.push_back(std::move(*text));
    else
      ++out.malformed;
  }
  return out;
}

}  // namespace mtastsd::io
