// Randomness; see the header. One generator per thread, seeded from
// std::random_device (the kernel's getrandom on Linux).
#include "util/random.hpp"

#include <random>
#include <string_view>

namespace mtastsd::util {
namespace {

std::mt19937_64& generator() {
  thread_local std::mt19937_64 g{[] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }()};
  return g;
}

}  // namespace

std::string random_alnum(std::size_t length) {
  constexpr std::string_view kAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
  std::string out;
  out.reserve(length);
  for (std::size_t i = 0; i < length; ++i) out.push_back(kAlphabet[pick(generator())]);
  return out;
}

double random_fraction() { return std::uniform_real_distribution<double>(0.0, 1.0)(generator()); }

}  // namespace mtastsd::util
