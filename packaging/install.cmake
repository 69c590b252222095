# What `cmake --install` puts where (GNUInstallDirs). With CMAKE_INSTALL_PREFIX=/usr (the Debian
# package) the configuration is /etc/mtastsd/mtastsd.conf and the unit goes to /lib/systemd/system,
# where Debian 12 packages ship units; with the default /usr/local everything stays under the prefix
# (/usr/local/etc/mtastsd, /usr/local/lib/systemd/system, both searched by systemd and by mtastsd's
# unit, which names the configuration it was configured with).
# Limits: the systemd directories are fixed per prefix, not read from systemd.pc; override
# MTASTSD_SYSTEMD_UNIT_DIR, MTASTSD_TMPFILES_DIR, MTASTSD_SYSUSERS_DIR on the cmake command line.

# The cache entries are empty unless set on the command line: then the prefix decides, also
# when a build directory is configured again with another prefix.
set(MTASTSD_SYSTEMD_UNIT_DIR "" CACHE PATH "systemd system unit directory (empty: by prefix)")
set(MTASTSD_TMPFILES_DIR "" CACHE PATH "tmpfiles.d directory (empty: by prefix)")
set(MTASTSD_SYSUSERS_DIR "" CACHE PATH "sysusers.d directory (empty: by prefix)")
if(MTASTSD_SYSTEMD_UNIT_DIR)
  set(mtastsd_unit_dir "${MTASTSD_SYSTEMD_UNIT_DIR}")
elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(mtastsd_unit_dir "/lib/systemd/system")
else()
  set(mtastsd_unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
set(mtastsd_tmpfiles_dir "${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d")
if(MTASTSD_TMPFILES_DIR)
  set(mtastsd_tmpfiles_dir "${MTASTSD_TMPFILES_DIR}")
endif()
set(mtastsd_sysusers_dir "${CMAKE_INSTALL_PREFIX}/lib/sysusers.d")
if(MTASTSD_SYSUSERS_DIR)
  set(mtastsd_sysusers_dir "${MTASTSD_SYSUSERS_DIR}")
endif()
set(MTASTSD_FULL_SBINDIR "${CMAKE_INSTALL_FULL_SBINDIR}")
set(MTASTSD_CONFIG_DIR "${CMAKE_INSTALL_FULL_SYSCONFDIR}/mtastsd")
set(MTASTSD_CONFIG_FILE "${MTASTSD_CONFIG_DIR}/mtastsd.conf")

install(TARGETS mtastsd mtastsctl DESTINATION ${CMAKE_INSTALL_SBINDIR})

# Man pages, gzipped as Debian policy (sec. 12.1) asks: `gzip -9n` (no name, no time stamp).
set(mtastsd_man_pages man/mtastsd.8 man/mtastsctl.8 man/mtastsd.conf.5)
foreach(page IN LISTS mtastsd_man_pages)
  get_filename_component(name ${page} NAME)
  string(REGEX MATCH "[0-9]$" section ${name})
  set(compressed ${CMAKE_CURRENT_BINARY_DIR}/man/${name}.gz)
  add_custom_command(OUTPUT ${compressed}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/man
    COMMAND gzip -9n -c ${CMAKE_CURRENT_SOURCE_DIR}/${page} > ${compressed}
    DEPENDS ${page} VERBATIM)
  list(APPEND mtastsd_compressed_man ${compressed})
  install(FILES ${compressed} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(man_pages ALL DEPENDS ${mtastsd_compressed_man})

# systemd: the unit names the installed binary and configuration.
configure_file(postfix-integration/mtastsd.service.in ${CMAKE_CURRENT_BINARY_DIR}/mtastsd.service @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/mtastsd.service DESTINATION ${mtastsd_unit_dir})
install(FILES packaging/mtastsd.tmpfiles DESTINATION ${mtastsd_tmpfiles_dir} RENAME mtastsd.conf)
install(FILES packaging/mtastsd.sysusers DESTINATION ${mtastsd_sysusers_dir} RENAME mtastsd.conf)

# The configuration: the example file. A configuration already installed (outside a DESTDIR
# staging tree, i.e. on a live system) is kept; the example is in the documentation too.
install(CODE "
  set(conf \"\$ENV{DESTDIR}${MTASTSD_CONFIG_FILE}\")
  if(EXISTS \"\${conf}\")
    message(STATUS \"Keeping: \${conf} (the example is in ${CMAKE_INSTALL_FULL_DOCDIR}/examples)\")
  else()
    # file(INSTALL) puts DESTDIR in front of the destination itself.
    file(INSTALL DESTINATION \"${MTASTSD_CONFIG_DIR}\" TYPE FILE RENAME mtastsd.conf
         FILES \"${CMAKE_CURRENT_SOURCE_DIR}/postfix-integration/mtastsd.conf.example\")
  endif()
")

# Documentation and the Postfix fragments.
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES postfix-integration/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME README.postfix.md)
install(FILES postfix-integration/mtastsd.conf.example postfix-integration/main.cf.postfix-3.7
              postfix-integration/main.cf.postfix-3.10 postfix-integration/master.cf.fragment
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES postfix-integration/postfix@-.service.d/mtastsd.conf
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/postfix@-.service.d)
