// micro_core: Google Benchmark micro-benchmarks of the steps of a cache-hit lookup,
// on the typical policy of bench_records.hpp: netstring decode (util/netstring),
// socketmap request parse (core/socketmap_request), next-hop normalising
// (core/next_hop, IDNA via libidn2), policy parse (core/sts_policy; done per fetch,
// not per lookup), cache record decode (core/cache_record), answer building
// (core/answer, both dialects) and an LMDB lookup (io::PolicyStore::get, which
// includes the record decode) in a store of 100k records.
// The store is filled on first use in a temporary directory (a few seconds) and
// removed at exit; --benchmark_filter without PolicyStore skips it.
// Limits: single-threaded, warm caches; the numbers are per call on this machine.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>
#include "bench_records.hpp"
#include "cache_fill.hpp"
#include "core/answer.hpp"
#include "core/cache_record.hpp"
#include "core/next_hop.hpp"
#include "core/socketmap_request.hpp"
#include "core/sts_policy.hpp"
#include "io/policy_store.hpp"
#include "util/netstring.hpp"

namespace mtastsd::bench {
namespace {

// The size of the store of the issue 7 scale target.
constexpr std::size_t kStoreRecords = 100'000;
constexpr std::string_view kDomain = "d50000.bench.example";
// What Postfix sends for it (socketmap_table(5): "NAME KEY").
const std::string kRequestPayload = "default " + std::string(kDomain);

void BM_NetstringDecode(benchmark::State& state) {
  const std::string wire = util::encode_netstring(kRequestPayload);
  util::NetstringDecoder decoder(10000);  // Postfix's query cap (dict_sockmap.c)
  for (auto _ : state) {
    decoder.feed(wire);
    auto payload = decoder.next();
    benchmark::DoNotOptimize(payload);
  }
}
BENCHMARK(BM_NetstringDecode);

void BM_ParseSocketmapRequest(benchmark::State& state) {
  for (auto _ : state) {
    auto request = core::parse_socketmap_request(kRequestPayload);
    benchmark::DoNotOptimize(request);
  }
}
BENCHMARK(BM_ParseSocketmapRequest);

void BM_NormalizeNextHop(benchmark::State& state) {
  for (auto _ : state) {
    auto hop = core::normalize_next_hop(kDomain);
    benchmark::DoNotOptimize(hop);
  }
}
BENCHMARK(BM_NormalizeNextHop);

void BM_ParseStsPolicy(benchmark::State& state) {
  const std::string text = typical_policy_text(kDomain);
  for (auto _ : state) {
    auto policy = core::parse_sts_policy(text);
    benchmark::DoNotOptimize(policy);
  }
}
BENCHMARK(BM_ParseStsPolicy);

void BM_DecodeCacheRecord(benchmark::State& state) {
  const std::string bytes = core::encode_cache_record(enforce_record(kDomain, util::system_now()));
  for (auto _ : state) {
    auto record = core::decode_cache_record(bytes);
    benchmark::DoNotOptimize(record);
  }
  state.counters["record_bytes"] = static_cast<double>(bytes.size());
}
BENCHMARK(BM_DecodeCacheRecord);

// The whole reply as sent: policy result, status word, netstring framing.
void BM_BuildAnswer(benchmark::State& state) {
  const auto dialect = static_cast<core::Dialect>(state.range(0));
  state.SetLabel(std::string(core::to_string(dialect)));
  const core::StsPolicy policy = enforce_record(kDomain, util::system_now()).policy;
  for (auto _ : state) {
    auto reply = util::encode_netstring(
        core::encode_reply({core::ReplyStatus::ok, core::build_sts_policy_result(policy, kDomain, dialect)}));
    benchmark::DoNotOptimize(reply);
  }
}
BENCHMARK(BM_BuildAnswer)
    ->Arg(static_cast<int>(core::Dialect::postfix))
    ->Arg(static_cast<int>(core::Dialect::postfix_tlsrpt));

// A policy store of kStoreRecords enforce records in a temporary directory.
class FilledStore {
 public:
  FilledStore() {
    std::string dir = (std::filesystem::temp_directory_path() / "micro_core.XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = dir;
    auto store = io::PolicyStore::open(io::StoreSettings{.directory = dir_ + "/cache"});
    if (!store) throw std::runtime_error("cannot open a store in " + dir_ + ": " + store.error().detail);
    store_ = std::move(*store);
    if (auto filled = fill_policy_store(*store_, kDefaultPattern, kStoreRecords, RecordKind::enforce,
                                        util::system_now());
        !filled)
      throw std::runtime_error(filled.error());
    // Looked up in a shuffled order, so successive lookups touch different pages.
    for (std::size_t n = 0; n < kStoreRecords; ++n) domains_.push_back(*domain_for(kDefaultPattern, n));
    std::shuffle(domains_.begin(), domains_.end(), std::mt19937(7));
  }
  ~FilledStore() {
    store_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  io::PolicyStore& store() { return *store_; }
  const std::vector<std::string>& domains() const { return domains_; }

 private:
  std::string dir_;
  std::unique_ptr<io::PolicyStore> store_;
  std::vector<std::string> domains_;
};

// Created by the first benchmark that needs it; removed by main.
std::unique_ptr<FilledStore> filled_store;
FilledStore& store_of_100k() {
  if (!filled_store) filled_store = std::make_unique<FilledStore>();
  return *filled_store;
}

void BM_PolicyStoreGet(benchmark::State& state) {
  FilledStore& filled = store_of_100k();
  std::size_t next = 0;
  for (auto _ : state) {
    auto record = filled.store().get(filled.domains()[next]);
    if (!record || !*record) {
      state.SkipWithError("a filled domain is missing");
      break;
    }
    benchmark::DoNotOptimize(record);
    next = (next + 1) % filled.domains().size();
  }
}
BENCHMARK(BM_PolicyStoreGet);

void BM_PolicyStoreGetAbsent(benchmark::State& state) {
  FilledStore& filled = store_of_100k();
  for (auto _ : state) {
    auto record = filled.store().get("absent.bench.example");
    benchmark::DoNotOptimize(record);
  }
}
BENCHMARK(BM_PolicyStoreGetAbsent);

}  // namespace
}  // namespace mtastsd::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  mtastsd::bench::filled_store.reset();
  return 0;
}
