// Precompiled header for the Asio/Beast layers: they dominate build time.
#pragma once
#include <utility>  // Boost 1.74 asio/awaitable.hpp needs std::exchange before it is included.
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
