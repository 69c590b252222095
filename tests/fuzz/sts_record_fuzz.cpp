// The _mta-sts TXT record (core/sts_record, RFC 8461 sec. 3.1): the input as
// one record, and cut at each LF into the record set of one name for
// select_sts_record. Properties: a parsed record's id is 1-32 letters or digits;
// the record written back ("v=STSv1; id=..; name=value..") parses to the same
// record; the selection agrees with parsing the records one by one.
#include <string>
#include <vector>
#include "core/sts_record.hpp"
#include "util/ascii.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace mtastsd::core;

bool same(const StsRecord& a, const StsRecord& b) { return a.id == b.id && a.extensions == b.extensions; }

void check_record(const StsRecord& record) {
  FUZZ_CHECK(!record.id.empty() && record.id.size() <= 32);
  for (const char c : record.id) FUZZ_CHECK(mtastsd::util::is_alnum(c));
  std::string text = "v=STSv1; id=" + record.id;
  for (const auto& [name, value] : record.extensions) {
    FUZZ_CHECK(name != "id" && name != "v" && !value.empty());
    text += "; " + name + "=" + value;
  }
  const auto again = parse_sts_record(text);
  FUZZ_CHECK(again && same(*again, record));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = mtastsd::fuzz::as_text(data, size);
  if (const auto record = parse_sts_record(input)) check_record(*record);

  std::vector<std::string> txts;
  for (std::string_view line : mtastsd::fuzz::lines_of(input)) {
    if (line.ends_with('\n')) line.remove_suffix(1);
    txts.emplace_back(line);
  }
  std::size_t sts = 0;
  std::expected<StsRecord, StsRecordError> only = std::unexpected(StsRecordError::not_sts);
  for (const std::string& txt : txts) {
    auto parsed = parse_sts_record(txt);
    if (!parsed && parsed.error() == StsRecordError::not_sts) continue;
    if (++sts == 1) only = std::move(parsed);
  }
  const auto selected = select_sts_record(txts);
  if (sts == 0) FUZZ_CHECK(!selected && selected.error().error == StsDiscoveryError::no_record);
  else if (sts > 1) FUZZ_CHECK(!selected && selected.error().error == StsDiscoveryError::multiple);
  else if (!only) FUZZ_CHECK(!selected && selected.error().error == StsDiscoveryError::invalid);
  else FUZZ_CHECK(selected && same(*selected, *only));
  if (!selected) FUZZ_CHECK(mtastsd::fuzz::is_printable(selected.error().detail));
  return 0;
}
