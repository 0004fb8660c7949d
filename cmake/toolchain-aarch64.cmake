# toolchain-aarch64.cmake — cross-compile weft for aarch64 Linux (glibc) with
# Debian's gcc-aarch64-linux-gnu and run the results under qemu-user.
#
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake \
#         [-DWEFT_AARCH64_SYSROOT=/path/to/arm64/root]
#   cmake --build build-aarch64 && ctest --test-dir build-aarch64
#
# Where the arm64 libraries (libatomic-ops, hwloc, cmocka and their run-time
# dependencies, glibc for the emulator) come from:
#
#  * WEFT_AARCH64_SYSROOT (cache variable, or the environment variable of the
#    same name at first configure): a directory holding the arm64 packages
#    unpacked with dpkg -x (.ci/aarch64.sh builds one).  It becomes
#    CMAKE_SYSROOT, the find root, the pkg-config sysroot and qemu's -L
#    prefix.  This is what CI uses: on Debian 12, installing the arm64
#    -dev packages through multiarch removes the amd64 libatomic-ops-dev
#    (not Multi-Arch: same) and drags upgrades of host packages along.
#
#  * otherwise, Debian multiarch: packages installed as :arm64 after
#    `dpkg --add-architecture arm64` (pkg-config files in
#    /usr/lib/aarch64-linux-gnu/pkgconfig), glibc from libc6-dev-arm64-cross
#    in /usr/aarch64-linux-gnu.
#
# Compiler: WEFT_AARCH64_TRIPLE (default aarch64-linux-gnu) + "-gcc".
# Emulator: qemu-aarch64 or qemu-aarch64-static (package qemu-user or
# qemu-user-static), used by ctest via CMAKE_CROSSCOMPILING_EMULATOR; no
# binfmt_misc registration is needed.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

if(NOT WEFT_AARCH64_TRIPLE)
  set(WEFT_AARCH64_TRIPLE aarch64-linux-gnu)
endif()
if(NOT DEFINED WEFT_AARCH64_SYSROOT AND DEFINED ENV{WEFT_AARCH64_SYSROOT})
  set(WEFT_AARCH64_SYSROOT "$ENV{WEFT_AARCH64_SYSROOT}")
endif()
set(WEFT_AARCH64_SYSROOT "${WEFT_AARCH64_SYSROOT}" CACHE PATH
    "Unpacked arm64 root with the dependencies (empty: Debian multiarch paths)")
# try_compile projects re-read this file: hand them the settings.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES WEFT_AARCH64_SYSROOT WEFT_AARCH64_TRIPLE)

set(CMAKE_C_COMPILER ${WEFT_AARCH64_TRIPLE}-gcc)
set(CMAKE_ASM_COMPILER ${WEFT_AARCH64_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${WEFT_AARCH64_TRIPLE}-g++)

set(_weft_multiarch_lib /usr/lib/${WEFT_AARCH64_TRIPLE})
if(WEFT_AARCH64_SYSROOT)
  if(NOT EXISTS "${WEFT_AARCH64_SYSROOT}/lib/${WEFT_AARCH64_TRIPLE}")
    message(FATAL_ERROR "WEFT_AARCH64_SYSROOT=${WEFT_AARCH64_SYSROOT} has no "
            "lib/${WEFT_AARCH64_TRIPLE}; build it with .ci/aarch64.sh")
  endif()
  set(_weft_root "${WEFT_AARCH64_SYSROOT}")
  set(CMAKE_SYSROOT "${_weft_root}")
  # glibc's own headers and crt files still come from the cross toolchain
  # (gcc searches /usr/${triple} before the sysroot); the sysroot adds the
  # libraries and, at run time, glibc and ld.so for the emulator.
  set(CMAKE_FIND_ROOT_PATH "${_weft_root}" /usr/${WEFT_AARCH64_TRIPLE})
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "${_weft_root}")
  set(ENV{PKG_CONFIG_LIBDIR}
      "${_weft_root}${_weft_multiarch_lib}/pkgconfig:${_weft_root}/usr/share/pkgconfig:${_weft_root}/usr/lib/pkgconfig")
  # Indirect dependencies (libhwloc -> libudev, libnuma) of shared libraries.
  set(_weft_rpath_link "-Wl,-rpath-link,${_weft_root}${_weft_multiarch_lib}:${_weft_root}/lib/${WEFT_AARCH64_TRIPLE}")
  set(CMAKE_EXE_LINKER_FLAGS_INIT "${_weft_rpath_link}")
  set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_weft_rpath_link}")
else()
  set(_weft_root /usr/${WEFT_AARCH64_TRIPLE})
  set(CMAKE_FIND_ROOT_PATH /usr/${WEFT_AARCH64_TRIPLE} /)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
  set(ENV{PKG_CONFIG_LIBDIR} "${_weft_multiarch_lib}/pkgconfig:/usr/share/pkgconfig")
endif()
set(ENV{PKG_CONFIG_PATH} "")

# Headers and libraries only from the target roots; programs from the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(WEFT_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(WEFT_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${WEFT_QEMU_AARCH64};-L;${_weft_root}")
else()
  message(WARNING "qemu-aarch64 not found (apt-get install qemu-user): "
          "tests will build but ctest cannot run them")
endif()
