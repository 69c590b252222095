// Every socket mtastsd listens on, bound once by the process and kept across
// configuration reloads: the socketmap listeners (unix and loopback TCP), the
// libtlsrpt datagram socket, the control socket of mtastsctl and the metrics
// endpoint. Binding here, before privileges are dropped, lets a root start put
// sockets where only root may; keeping them across a reload means Postfix's
// connections wait in the listen backlog while the services are rebuilt
// instead of being refused. Services get a duplicate of a descriptor (dup_fd)
// and close only that.
// Limits: a socket that a reload no longer names is closed (and its unix path
// removed) only by retire_unused(), so a reload that fails can go back to the
// sockets it had; owner, group and mode are re-applied to unix sockets at every
// update; after privileges are dropped, new sockets can only be bound where the
// run user may.
#pragma once
#include <expected>
#include <string>
#include <vector>
#include "daemon/config.hpp"

namespace mtastsd::daemon {

enum class SocketRole { socketmap, tlsrpt, control, metrics };
std::string_view to_string(SocketRole role);

// What a listener is: its role and where ("unix:/path" or "inet:ADDR:PORT").
struct ListenerId {
  SocketRole role;
  std::string where;
  bool is_unix() const { return where.starts_with("unix:"); }
  auto operator<=>(const ListenerId&) const = default;
};

// The endpoints a configuration asks for, with their settings.
struct WantedListener {
  ListenerId id;
  ListenEndpoint endpoint;
};
std::vector<WantedListener> wanted_listeners(const Config& config);

class ListenerSet {
 public:
  ListenerSet() = default;
  ListenerSet(const ListenerSet&) = delete;
  ListenerSet& operator=(const ListenerSet&) = delete;
  ~ListenerSet();

  // Bind what `config` names and is not bound yet, and re-apply unix owner, group
  // and mode; sockets bound by an earlier configuration stay open. On error the
  // sockets bound by this call are closed again and the message names the socket.
  // default_owner/default_group ("" = unchanged) apply to unix sockets that set none
  // (the run user, when a root start drops privileges).
  std::expected<void, std::string> update(const Config& config, const std::string& default_owner = "",
                                          const std::string& default_group = "");
  // Close the sockets `config` does not name (after a reload took effect, or to
  // undo an update whose configuration could not start).
  void retire_unused(const Config& config);

  // The bound sockets of a role, each as a new descriptor owned by the caller
  // (close-on-exec), with the endpoint it was bound for.
  struct Duplicate {
    ListenerId id;
    ListenEndpoint endpoint;
    int fd = -1;
  };
  std::vector<Duplicate> duplicates(SocketRole role) const;
  // Every bound socket, in binding order (mtastsctl status).
  std::vector<ListenerId> bound() const;

 private:
  struct Bound {
    ListenerId id;
    ListenEndpoint endpoint;
    int fd = -1;
  };
  std::vector<Bound> bound_;
};

}  // namespace mtastsd::daemon
