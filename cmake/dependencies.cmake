# Third-party dependencies. System packages come from launch/setup.sh (Debian); LibTorch from
# the venv's torch wheel unless Torch_DIR / CMAKE_PREFIX_PATH points at another LibTorch 2.x.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(UTF8PROC REQUIRED IMPORTED_TARGET libutf8proc)
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)
# HDF5 through FindHDF5 (the h5cc wrapper when present); or, with PRINCIPIA_HDF5_PKG_CONFIG,
# through Debian's hdf5-serial.pc, which honours PKG_CONFIG_SYSROOT_DIR (launch/gpu_check.sh
# builds against packages unpacked in deps/ that way).
option(PRINCIPIA_HDF5_PKG_CONFIG "Find HDF5 through pkg-config (hdf5-serial.pc)" OFF)
if(PRINCIPIA_HDF5_PKG_CONFIG)
  pkg_check_modules(HDF5_PC REQUIRED IMPORTED_TARGET hdf5-serial)
  set(HDF5_C_LIBRARIES PkgConfig::HDF5_PC)
  set(HDF5_INCLUDE_DIRS ${HDF5_PC_INCLUDE_DIRS})
else()
  find_package(HDF5 REQUIRED COMPONENTS C)
endif()
if(PRINCIPIA_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()

# yaml-cpp's exported target name differs between versions.
if(TARGET yaml-cpp::yaml-cpp)
  set(PRINCIPIA_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(PRINCIPIA_YAML_TARGET yaml-cpp)
endif()

set(PRINCIPIA_PYTHON "${PROJECT_SOURCE_DIR}/.venv/bin/python" CACHE FILEPATH
    "Python with the interop packages (launch/setup.sh makes it)")

set(PRINCIPIA_HAS_CUDA OFF)
if(PRINCIPIA_WITH_TORCH)
  if(NOT Torch_DIR AND EXISTS "${PRINCIPIA_PYTHON}")
    execute_process(
      COMMAND "${PRINCIPIA_PYTHON}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
      OUTPUT_VARIABLE _torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(_torch_prefix)
      list(APPEND CMAKE_PREFIX_PATH "${_torch_prefix}")
    endif()
  endif()
  find_package(Torch QUIET)
  if(NOT Torch_FOUND)
    message(FATAL_ERROR
      "LibTorch not found. Run launch/setup.sh (CPU LibTorch in .venv), or point "
      "Torch_DIR / CMAKE_PREFIX_PATH at a LibTorch 2.x, or configure with "
      "-DPRINCIPIA_WITH_TORCH=OFF to build only the modules without tensors.")
  endif()
  if(TORCH_CUDA_LIBRARIES OR CUDA_FOUND OR TARGET torch_cuda)
    set(PRINCIPIA_HAS_CUDA ON)
  endif()
  message(STATUS "principia: LibTorch ${Torch_VERSION} at ${Torch_DIR} (CUDA: ${PRINCIPIA_HAS_CUDA})")
endif()

# Gloo: libtorch_cpu carries c10d::ProcessGroupGloo, but the torch wheel ships no gloo/ headers,
# which ProcessGroupGloo.hpp includes. Debian's libgloo-dev provides them (headers only: the
# implementation used is the one inside libtorch_cpu; Debian's libgloo is never linked).
set(PRINCIPIA_HAS_GLOO OFF)
if(PRINCIPIA_WITH_TORCH)
  find_path(PRINCIPIA_GLOO_INCLUDE_DIR gloo/config.h)
  set(_c10d_gloo_header "")
  foreach(_dir IN LISTS TORCH_INCLUDE_DIRS)
    if(EXISTS "${_dir}/torch/csrc/distributed/c10d/ProcessGroupGloo.hpp")
      set(_c10d_gloo_header "${_dir}/torch/csrc/distributed/c10d/ProcessGroupGloo.hpp")
    endif()
  endforeach()
  if(PRINCIPIA_GLOO_INCLUDE_DIR AND _c10d_gloo_header)
    set(PRINCIPIA_HAS_GLOO ON)
  endif()
  message(STATUS "principia: Gloo process group: ${PRINCIPIA_HAS_GLOO} (gloo headers: ${PRINCIPIA_GLOO_INCLUDE_DIR})")
endif()

# NCCL: a CUDA LibTorch carries c10d::ProcessGroupNCCL in libtorch_cuda; its header includes
# nccl.h, which the torch wheel leaves to the nvidia-nccl package beside it (site-packages/
# nvidia/nccl/include) or a CUDA toolkit / system install provides.
set(PRINCIPIA_HAS_NCCL OFF)
if(PRINCIPIA_HAS_CUDA)
  get_filename_component(_site_packages "${Torch_DIR}/../../../.." ABSOLUTE)
  find_path(PRINCIPIA_NCCL_INCLUDE_DIR nccl.h
    HINTS "${_site_packages}/nvidia/nccl/include"
          "$ENV{CUDA_HOME}/include" /usr/local/cuda/include)
  set(_c10d_nccl_header OFF)
  foreach(_dir IN LISTS TORCH_INCLUDE_DIRS)
    if(EXISTS "${_dir}/torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp")
      set(_c10d_nccl_header ON)
    endif()
  endforeach()
  if(PRINCIPIA_NCCL_INCLUDE_DIR AND _c10d_nccl_header)
    set(PRINCIPIA_HAS_NCCL ON)
  endif()
  # ProcessGroupNCCL.hpp reaches ATen/cuda/CUDAContext.h, which includes the CUDA math libraries'
  # headers (cusparse.h, cublas_v2.h). A bare toolkit (nvcc + cudart) lacks them; the wheel's
  # nvidia packages have them. Searched after every other include directory.
  find_path(PRINCIPIA_CUDA_LIBS_INCLUDE_DIR cusparse.h
    HINTS "$ENV{CUDA_HOME}/include" /usr/local/cuda/include "${_site_packages}/nvidia/cu13/include"
          "${_site_packages}/nvidia/cusparse/include")
  message(STATUS "principia: NCCL process group: ${PRINCIPIA_HAS_NCCL} (nccl.h: ${PRINCIPIA_NCCL_INCLUDE_DIR})")
endif()
