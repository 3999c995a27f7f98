# Helpers shared by every module's CMakeLists.txt.

# Applies the project's compile settings to one of our own targets: warnings are errors here,
# never in third-party headers (those come in as SYSTEM includes).
function(klerno_target_defaults target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
  target_compile_features(${target} PUBLIC cxx_std_17)
endfunction()

# Declares a module library: klerno_module(NAME runtime SOURCES a.cpp b.cpp DEPS ...).
# The repository root is the include root, so headers are included as "runtime/x.hpp".
function(klerno_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(klerno_${M_NAME} STATIC ${M_SOURCES})
  add_library(klerno::${M_NAME} ALIAS klerno_${M_NAME})
  target_include_directories(klerno_${M_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(klerno_${M_NAME} PUBLIC ${M_PUBLIC_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  klerno_target_defaults(klerno_${M_NAME})
endfunction()

# CAF 0.17 (Debian's libcaf-dev) ships neither a CMake package nor a pkg-config file: find the
# libraries by name and wrap them in imported targets.
function(klerno_find_caf)
  find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
  foreach(lib core io openssl)
    find_library(CAF_${lib}_LIBRARY NAMES caf_${lib} REQUIRED)
    if(NOT TARGET caf::${lib})
      add_library(caf::${lib} UNKNOWN IMPORTED GLOBAL)
      set_target_properties(caf::${lib} PROPERTIES
        IMPORTED_LOCATION "${CAF_${lib}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES Threads::Threads)
    endif()
  endforeach()
  set_property(TARGET caf::io APPEND PROPERTY INTERFACE_LINK_LIBRARIES caf::core)
  set_property(TARGET caf::openssl APPEND PROPERTY INTERFACE_LINK_LIBRARIES caf::io OpenSSL::SSL)
endfunction()
