# The Debian package (CPack DEB): `scripts/package` configures a Release build with
# CMAKE_INSTALL_PREFIX=/usr and runs cpack. The package holds what `cmake --install` installs
# (packaging/install.cmake) plus the maintainer scripts in packaging/debian/.
# Depends comes from dpkg-shlibdeps (package dpkg-dev) on the installed binaries, plus adduser for
# the postinst; Postfix is only recommended (mtastsd's socket is for it, but nothing breaks without).
# Limits: one binary package, no source package, no debian/changelog or copyright file.

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME mtastsd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "MTA-STS, DANE and TLS-RPT policy server for Postfix")
set(CPACK_PACKAGE_DESCRIPTION "mtastsd answers Postfix's smtp_tls_policy_maps socketmap lookups with
the TLS policy of each next-hop domain: MTA-STS (RFC 8461) policies discovered, validated and cached
in LMDB, DANE where it applies, and daily TLS-RPT (RFC 8460) reports of the sessions Postfix made.")
set(MTASTSD_PACKAGE_MAINTAINER "mtastsd maintainers <root@localhost>" CACHE STRING "Maintainer field of the .deb")
set(CPACK_PACKAGE_CONTACT "${MTASTSD_PACKAGE_MAINTAINER}")
set(CPACK_STRIP_FILES ON)
# Absolute destinations (/etc, /lib/systemd/system) are staged under DESTDIR.
set(CPACK_SET_DESTDIR ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # mtastsd_VERSION-RELEASE_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION mail)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The postinst creates the system user with adduser(8) (Priority important, not essential).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "postfix")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "dns-root-data")

# The configuration is a conffile: dpkg keeps local changes on upgrade and removes it on purge.
configure_file(packaging/debian/conffiles.in ${CMAKE_CURRENT_BINARY_DIR}/debian/conffiles @ONLY)
foreach(script postinst prerm postrm)
  configure_file(packaging/debian/${script} ${CMAKE_CURRENT_BINARY_DIR}/debian/${script} @ONLY)
  list(APPEND mtastsd_control_extra ${CMAKE_CURRENT_BINARY_DIR}/debian/${script})
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_BINARY_DIR}/debian/conffiles ${mtastsd_control_extra})
# Maintainer scripts 0755, conffiles 0644, as dpkg-deb expects.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
