// The configuration file (daemon/config parse_config: TOML by toml++, then
// mtastsd's key table and checks) from text, as load_config reads it after its
// size cap. Properties: nothing escapes as an exception (errors are values); a
// rejected file names at least one problem, each with a message and a line
// within the file; an accepted one has the "default" profile and one listener
// or more; the same text gives the same verdict twice.
#include <algorithm>
#include <string>
#include <utility>  // before Asio (Boost 1.74), which daemon/config.hpp includes
#include "daemon/config.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mtastsd::daemon;
  const std::string_view text = mtastsd::fuzz::as_text(data, size);
  const auto config = parse_config(text, "fuzz.conf");
  const int lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  if (!config) {
    FUZZ_CHECK(!config.error().empty());
    for (const ConfigProblem& problem : config.error()) {
      FUZZ_CHECK(problem.file == "fuzz.conf" && !problem.message.empty());
      FUZZ_CHECK(problem.line >= 0 && problem.line <= lines);
      (void)problem.to_string();
    }
  } else {
    FUZZ_CHECK(config->profiles.contains("default") && !config->listen.empty());
  }
  const auto again = parse_config(text, "fuzz.conf");
  FUZZ_CHECK(again.has_value() == config.has_value());
  if (!again) FUZZ_CHECK(again.error().size() == config.error().size());
  return 0;
}
