// DKIM signing with libopendkim; see dkim_signer.hpp for the choices and limits.
#include "io/dkim_signer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/host_name.hpp"
#include "io/opendkim.hpp"
#include "util/printable.hpp"

namespace mtastsd::io {
namespace {

constexpr std::string_view kSignatureField = "DKIM-Signature: ";

std::unexpected<DkimFailure> fail(DkimError error, std::string detail) {
  return std::unexpected(DkimFailure{error, std::move(detail)});
}

struct LibraryClose {
  void operator()(DKIM_LIB* lib) const { dkim_close(lib); }
};
using Library = std::unique_ptr<DKIM_LIB, LibraryClose>;

struct HandleFree {
  void operator()(DKIM* dkim) const { dkim_free(dkim); }
};
using Handle = std::unique_ptr<DKIM, HandleFree>;

struct FileDescriptor {
  int fd;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

// The key file's bytes, after the checks of dkim_signer.hpp.
std::expected<std::string, DkimFailure> read_key_file(const std::string& path) {
  const FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)};
  const int fd = file.fd;
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) return fail(DkimError::key_missing, fmt::format("DKIM key file {} does not exist", path));
    return fail(DkimError::key_unreadable, fmt::format("cannot open DKIM key file {}: {}", path, std::strerror(error)));
  }
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return fail(DkimError::key_unreadable, fmt::format("DKIM key file {} is not a regular file", path));
  if ((st.st_mode & (S_IRWXO | S_IWGRP)) != 0)
    return fail(DkimError::key_unsafe_permissions,
                fmt::format("DKIM key file {} has mode {:04o}: others may read or write it, or its group may write "
                            "it (chmod o-rwx,g-w {})",
                            path, st.st_mode & 07777, path));
  if (static_cast<std::uintmax_t>(st.st_size) > kMaxKeyFileSize)
    return fail(DkimError::key_unreadable,
                fmt::format("DKIM key file {} is larger than {} bytes: not a key", path, kMaxKeyFileSize));
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return fail(DkimError::key_unreadable, fmt::format("cannot read DKIM key file {}: {}", path,
                                                         n < 0 ? std::strerror(errno) : "unexpected end of file"));
    done += static_cast<std::size_t>(n);
  }
  return text;
}

// libopendkim would only fail at the first signature: check the key at load, with OpenSSL.
std::expected<void, DkimFailure> check_rsa_key(const std::string& pem, const std::string& path) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr, &EVP_PKEY_free);
  if (!key) return fail(DkimError::key_invalid, fmt::format("DKIM key file {} holds no PEM private key", path));
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA)
    return fail(DkimError::key_invalid, fmt::format("DKIM key in {} is not an RSA key (rsa-sha256 needs one)", path));
  if (const int bits = EVP_PKEY_get_bits(key.get()); bits < kMinKeyBits)
    return fail(DkimError::key_invalid,
                fmt::format("DKIM key in {} has {} bits; RFC 8301 sec. 3.2 requires at least {}", path, bits,
                            kMinKeyBits));
  return {};
}

// NULL-terminated lists for DKIM_OPTS_SIGNHDRS and DKIM_OPTS_OVERSIGNHDRS.
std::vector<const char*> signed_header_list() {
  std::vector<const char*> names;
  for (std::string_view name : kSignedHeaders) names.push_back(name.data());  // literals: NUL-terminated
  names.push_back(nullptr);
  return names;
}

// libopendkim folds the signature with bare LF; the message uses CRLF.
std::string with_crlf(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
    out += text[i];
  }
  return out;
}

}  // namespace

struct DkimSigner::Impl {
  DkimSettings settings;
  std::string key_pem;
  std::vector<const char*> header_names = signed_header_list();  // lives as long as the library, which may
                                                                  // keep pointing at the list it was given
  Library library;

  ~Impl() { OPENSSL_cleanse(key_pem.data(), key_pem.size()); }
};

std::string_view to_string(DkimError e) {
  switch (e) {
    case DkimError::key_missing: return "DKIM key file missing";
    case DkimError::key_unreadable: return "DKIM key file unreadable";
    case DkimError::key_unsafe_permissions: return "DKIM key file permissions unsafe";
    case DkimError::key_invalid: return "DKIM key invalid";
    case DkimError::bad_selector: return "DKIM selector or domain invalid";
    case DkimError::signing_failed: return "DKIM signing failed";
  }
  return "DKIM error";
}

std::expected<DkimSigner, DkimFailure> DkimSigner::load(const DkimSettings& settings) {
  // A selector is a sub-domain of labels (RFC 6376 sec. 3.1); selector + "." + domain being a
  // host name checks both, and allows all-digit selectors such as "202404".
  if (!core::is_host_name(settings.domain) || settings.selector.empty() ||
      !core::is_host_name(fmt::format("{}.{}", settings.selector, settings.domain)))
    return fail(DkimError::bad_selector,
                fmt::format("DKIM selector \"{}\" or domain \"{}\" is not a DNS name",
                            util::printable_excerpt(settings.selector, 80),
                            util::printable_excerpt(settings.domain, 80)));
  auto pem = read_key_file(settings.key_file);
  if (!pem) return std::unexpected(pem.error());
  if (auto checked = check_rsa_key(*pem, settings.key_file); !checked) {
    OPENSSL_cleanse(pem->data(), pem->size());
    return std::unexpected(checked.error());
  }

  auto impl = std::make_unique<Impl>();
  impl->settings = settings;
  impl->key_pem = std::move(*pem);
  impl->library.reset(dkim_init(nullptr, nullptr));
  if (!impl->library) throw std::bad_alloc();  // dkim_init fails only when out of memory
  const auto set = [&](int option, void* data, std::size_t size) {
    if (dkim_options(impl->library.get(), DKIM_OP_SETOPT, option, data, size) != DKIM_STAT_OK)
      throw std::logic_error(fmt::format("libopendkim rejected option {}", option));
  };
  set(DKIM_OPTS_SIGNHDRS, impl->header_names.data(), sizeof(const char**));
  set(DKIM_OPTS_OVERSIGNHDRS, impl->header_names.data(), sizeof(const char**));
  return DkimSigner(std::move(impl));
}

DkimSigner::DkimSigner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DkimSigner::DkimSigner(DkimSigner&&) noexcept = default;
DkimSigner& DkimSigner::operator=(DkimSigner&&) noexcept = default;
DkimSigner::~DkimSigner() = default;

const DkimSettings& DkimSigner::settings() const { return impl_->settings; }

std::expected<std::string, DkimFailure> DkimSigner::sign(std::string_view message, util::TimePoint now) const {
  std::uint64_t signing_time = static_cast<std::uint64_t>(std::max<std::int64_t>(util::to_unix(now), 0));
  if (dkim_options(impl_->library.get(), DKIM_OP_SETOPT, DKIM_OPTS_FIXEDTIME, &signing_time, sizeof signing_time) !=
      DKIM_STAT_OK)
    return fail(DkimError::signing_failed, "cannot set the signing time");

  DKIM_STAT status = DKIM_STAT_OK;
  auto* key = reinterpret_cast<unsigned char*>(impl_->key_pem.data());  // NUL-terminated, as dkim_sign wants
  Handle dkim(dkim_sign(impl_->library.get(), reinterpret_cast<const unsigned char*>("report"), nullptr, key,
                        reinterpret_cast<const unsigned char*>(impl_->settings.selector.c_str()),
                        reinterpret_cast<const unsigned char*>(impl_->settings.domain.c_str()), DKIM_CANON_RELAXED,
                        DKIM_CANON_RELAXED, DKIM_SIGN_RSASHA256, -1, &status));
  if (!dkim) return fail(DkimError::signing_failed, fmt::format("dkim_sign: {}", dkim_getresultstr(status)));
  const auto step_failed = [&](std::string_view step, DKIM_STAT s) {
    const char* why = dkim_geterror(dkim.get());
    return fail(DkimError::signing_failed,
                fmt::format("{}: {}{}{}", step, dkim_getresultstr(s), why ? ": " : "", why ? why : ""));
  };
  // dkim_chunk takes the message as it would travel in SMTP: header, blank line, body.
  std::string copy(message);  // dkim_chunk takes a non-const buffer
  if (status = dkim_chunk(dkim.get(), reinterpret_cast<unsigned char*>(copy.data()), copy.size());
      status != DKIM_STAT_OK)
    return step_failed("dkim_chunk", status);
  if (status = dkim_chunk(dkim.get(), nullptr, 0); status != DKIM_STAT_OK) return step_failed("dkim_chunk end", status);
  if (status = dkim_eom(dkim.get(), nullptr); status != DKIM_STAT_OK) return step_failed("dkim_eom", status);
  unsigned char* value = nullptr;
  std::size_t length = 0;
  if (status = dkim_getsighdr_d(dkim.get(), kSignatureField.size(), &value, &length); status != DKIM_STAT_OK)
    return step_failed("dkim_getsighdr_d", status);

  std::string signed_message(kSignatureField);
  signed_message += with_crlf(std::string_view(reinterpret_cast<const char*>(value), length));
  signed_message += "\r\n";
  signed_message += message;
  return signed_message;
}

}  // namespace mtastsd::io
