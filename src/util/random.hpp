// Randomness for values that must not repeat or must not be guessed in advance
// (report tokens, send times). Not for key material: that is OpenSSL's job.
#pragma once
#include <cstddef>
#include <string>

namespace mtastsd::util {

// `length` characters from [0-9A-Za-z].
std::string random_alnum(std::size_t length);
// Uniform in [0, 1).
double random_fraction();

}  // namespace mtastsd::util
