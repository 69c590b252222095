// util/netstring's decoder fed a byte stream as a peer sends it (socketmap
// requests, control requests). Properties: the same payloads and the same
// outcome however the stream is cut into reads; every payload within the cap;
// the payloads re-encoded give back the bytes consumed; what stays buffered
// waiting for more is at most one netstring at the cap (the decoder's promise).
#include <optional>
#include <string>
#include <vector>
#include "fuzz_support.hpp"
#include "util/netstring.hpp"

namespace {

using mtastsd::util::NetstringDecoder;
using mtastsd::util::NetstringError;

// Postfix's socketmap client sends at most 10000 bytes (dict_sockmap.c;
// daemon/socketmap_server.hpp kMaxQueryBytes); a small cap reaches too_long quickly.
constexpr std::size_t kCaps[] = {10000, 16};
// 1: every boundary; 4096: the socketmap server's read buffer.
constexpr std::size_t kReadSizes[] = {1, 7, 4096};

struct Outcome {
  std::vector<std::string> payloads;
  std::optional<NetstringError> error;  // nullopt: waiting for more bytes
  std::size_t buffered = 0;
  bool operator==(const Outcome&) const = default;
};

void drain(NetstringDecoder& decoder, Outcome& out) {
  while (!out.error) {
    auto next = decoder.next();
    if (!next) {
      out.error = next.error();
      return;
    }
    if (!*next) return;
    out.payloads.push_back(std::move(**next));
  }
}

Outcome decode(std::string_view stream, std::size_t cap, std::size_t read_size) {
  NetstringDecoder decoder(cap);
  Outcome out;
  for (std::size_t pos = 0; pos < stream.size(); pos += read_size) {
    decoder.feed(stream.substr(pos, read_size));
    drain(decoder, out);
  }
  drain(decoder, out);
  out.buffered = decoder.buffered();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view stream = mtastsd::fuzz::as_text(data, size);
  for (const std::size_t cap : kCaps) {
    NetstringDecoder whole(cap);
    Outcome reference;
    whole.feed(stream);
    drain(whole, reference);
    reference.buffered = whole.buffered();

    std::string consumed;
    for (const std::string& payload : reference.payloads) {
      FUZZ_CHECK(payload.size() <= cap);
      consumed += mtastsd::util::encode_netstring(payload);
    }
    FUZZ_CHECK(stream.starts_with(consumed));
    if (!reference.error) {
      FUZZ_CHECK(consumed.size() + reference.buffered == stream.size());
      // A partial netstring: at most the digits of the cap, ':', the cap's data bytes.
      FUZZ_CHECK(reference.buffered <= std::to_string(cap).size() + 1 + cap);
    }
    for (const std::size_t read_size : kReadSizes) {
      Outcome chunked = decode(stream, cap, read_size);
      if (reference.error) chunked.buffered = reference.buffered;  // after an error, feed() stops buffering
      FUZZ_CHECK(chunked == reference);
    }
  }
  return 0;
}
