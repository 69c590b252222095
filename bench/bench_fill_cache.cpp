// bench_fill_cache: writes N cache records straight into mtastsd's LMDB cache
// (<state-dir>/cache, through io::PolicyStore, as the daemon itself writes them),
// so a benchmark starts from a warm cache without resolving anything: valid
// enforce policies by default (bench_records.hpp), or with --negative cached
// "no policy" records for the negative-cache runs.
// The records are written as of now: their lookups are pure cache hits while
// younger than the daemon's cache.id_check_interval (default 300 s; after that
// each hit starts a background TXT check). Negative records expire after 1 h.
// Limits: the cache is opened with the daemon's default map size (256 MiB, room for
// about 240,000 of these records, one transaction each as the daemon writes them);
// records of the same domains are replaced, others kept.
#include <chrono>
#include <iostream>
#include <string>
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include "bench_records.hpp"
#include "cache_fill.hpp"
#include "io/policy_store.hpp"

int main(int argc, char** argv) {
  using namespace mtastsd;
  std::string state_dir;
  std::size_t count = 0;
  std::string pattern(bench::kDefaultPattern);
  bool negative = false;
  CLI::App app{"bench_fill_cache: fill mtastsd's policy cache with N records for the benchmarks"};
  app.add_option("--state-dir", state_dir, "mtastsd's state directory (the cache is <state-dir>/cache)")->required();
  app.add_option("--count", count, "number of records")->required()->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
  app.add_option("--pattern", pattern, "domain names; %u is replaced by 0..count-1")->capture_default_str();
  app.add_flag("--negative", negative, "write cached \"no policy\" records instead of enforce policies");
  CLI11_PARSE(app, argc, argv);

  if (auto first = bench::domain_for(pattern, 0); !first) {
    std::cerr << "bench_fill_cache: " << first.error() << "\n";
    return 2;
  }
  // The daemon's default map size (io::StoreSettings), so the daemon opens it unchanged.
  io::StoreSettings settings;
  settings.directory = state_dir + "/cache";
  auto store = io::PolicyStore::open(settings);
  if (!store) {
    std::cerr << "bench_fill_cache: cannot open the cache in " << settings.directory << ": " << store.error().detail
              << "\n";
    return 1;
  }
  const auto started = std::chrono::steady_clock::now();
  const auto kind = negative ? bench::RecordKind::negative : bench::RecordKind::enforce;
  if (auto filled = bench::fill_policy_store(**store, pattern, count, kind, util::system_now()); !filled) {
    std::cerr << "bench_fill_cache: " << filled.error() << "\n";
    return 1;
  }
  (*store)->sync();
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << fmt::format("{} {} records written to {} in {:.2f} s\n", count, negative ? "negative" : "enforce",
                           settings.directory, took);
  return 0;
}
