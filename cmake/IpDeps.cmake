# Finds the libraries the project links, each from Debian's packages through
# pkg-config, and stops configure with the package to install when one is
# missing. Every library becomes an imported target named ip::<name>.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()
find_package(Threads REQUIRED)

set(_ip_missing "")
function(ip_dep name module package)
  pkg_check_modules(IPDEP_${name} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(IPDEP_${name}_FOUND)
    add_library(ip::${name} ALIAS PkgConfig::IPDEP_${name})
  else()
    set(_ip_missing "${_ip_missing} ${package}" PARENT_SCOPE)
  endif()
endfunction()

ip_dep(protobufc libprotobuf-c libprotobuf-c-dev)
# Debian's libnng-dev ships a CMake package, not a pkg-config file.
find_package(nng CONFIG QUIET)
if(nng_FOUND)
  add_library(ip::nng ALIAS nng::nng)
else()
  set(_ip_missing "${_ip_missing} libnng-dev")
endif()
ip_dep(rdkafka   rdkafka       librdkafka-dev)
ip_dep(pq        libpq         libpq-dev)
ip_dep(curl      libcurl       libcurl4-openssl-dev)
ip_dep(vips      vips          libvips-dev)
ip_dep(mhd       libmicrohttpd libmicrohttpd-dev)
ip_dep(jansson   jansson       libjansson-dev)
ip_dep(crypto    libcrypto     libssl-dev)

find_program(PROTOC_C NAMES protoc-c protoc-gen-c)
if(NOT PROTOC_C)
  set(_ip_missing "${_ip_missing} protobuf-c-compiler")
endif()

if(_ip_missing)
  message(FATAL_ERROR "Missing build dependencies. Install them with:\n"
                      "  apt-get install${_ip_missing}\n"
                      "(scripts/up and scripts/test install them for you)")
endif()
