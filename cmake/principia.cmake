# Helpers shared by every module: warnings on our code only, sanitizers, tests with labels.

add_library(principia_warnings INTERFACE)
target_compile_options(principia_warnings INTERFACE -Wall -Wextra)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12's -Wrestrict fires on std::string inside libstdc++ (GCC bug 105651): not our code.
  target_compile_options(principia_warnings INTERFACE -Wno-restrict)
endif()
if(PRINCIPIA_WERROR)
  target_compile_options(principia_warnings INTERFACE -Werror)
endif()
if(PRINCIPIA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# principia_library(NAME SOURCES... DEPS...) — a module library with our warnings.
function(principia_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${A_DEPS} PRIVATE principia_warnings ${A_PRIVATE_DEPS})
endfunction()

# Precompiled LibTorch headers, shared by every target that sees tensors.
# The first caller compiles the header; later targets reuse it (same flags: our warnings).
set_property(GLOBAL PROPERTY PRINCIPIA_TORCH_PCH_OWNER "")
function(principia_use_torch_pch target)
  get_property(owner GLOBAL PROPERTY PRINCIPIA_TORCH_PCH_OWNER)
  if(NOT owner)
    target_precompile_headers(${target} PRIVATE <torch/torch.h>)
    set_property(GLOBAL PROPERTY PRINCIPIA_TORCH_PCH_OWNER ${target})
  elseif(NOT owner STREQUAL target)
    target_precompile_headers(${target} REUSE_FROM ${owner})
  endif()
endfunction()

# principia_test(NAME SOURCES... DEPS... LABELS...) — one GoogleTest binary, its cases under ctest.
function(principia_test name)
  cmake_parse_arguments(A "RUN_SERIAL" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  add_executable(${name} ${A_SOURCES})
  target_link_libraries(${name} PRIVATE ${A_DEPS} principia_test_support GTest::gtest GTest::gtest_main principia_warnings)
  # `if (x) EXPECT_...` is idiomatic in tests; GoogleTest's macros trip -Wdangling-else.
  target_compile_options(${name} PRIVATE -Wno-dangling-else)
  # Fixtures that live beside a test's sources. Not __FILE__: ccache's CCACHE_BASEDIR makes it relative.
  target_compile_definitions(${name} PRIVATE PRINCIPIA_TEST_SOURCE_DIR="${CMAKE_CURRENT_SOURCE_DIR}")
  gtest_discover_tests(${name}
    PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT} RUN_SERIAL ${A_RUN_SERIAL}
    DISCOVERY_TIMEOUT 60)
endfunction()
