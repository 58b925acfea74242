# Every third-party dependency is a Debian package (scripts/install_deps.sh installs them).
# Each one is located directly so that no broken package config file is ever consulted.

find_package(OpenMP REQUIRED COMPONENTS CXX)

find_path(DOCTEST_INCLUDE_DIR doctest/doctest.h REQUIRED)
add_library(mdcsrn_doctest INTERFACE)
target_include_directories(mdcsrn_doctest SYSTEM INTERFACE ${DOCTEST_INCLUDE_DIR})

find_path(NLOHMANN_JSON_INCLUDE_DIR nlohmann/json.hpp REQUIRED)
add_library(mdcsrn_json INTERFACE)
target_include_directories(mdcsrn_json SYSTEM INTERFACE ${NLOHMANN_JSON_INCLUDE_DIR})

# Debian's NIFTIConfig.cmake names /usr/lib/libznz.so.3.0.0, which does not exist, so the headers
# and libraries are found by name. nifti2_io.h comes from libniftiio-dev.
find_path(NIFTI_INCLUDE_DIR nifti2_io.h PATH_SUFFIXES nifti REQUIRED)
find_library(NIFTI2_LIBRARY NAMES nifti2 libnifti2.so.2 REQUIRED)
find_library(ZNZ_LIBRARY NAMES znz libznz.so.3 REQUIRED)
find_package(ZLIB REQUIRED)
add_library(mdcsrn_nifti INTERFACE)
target_include_directories(mdcsrn_nifti SYSTEM INTERFACE ${NIFTI_INCLUDE_DIR})
target_link_libraries(mdcsrn_nifti INTERFACE ${NIFTI2_LIBRARY} ${ZNZ_LIBRARY} ZLIB::ZLIB)

# Boost.Math (header-only) for the t distribution of paired t-tests.
find_path(BOOST_MATH_INCLUDE_DIR boost/math/distributions/students_t.hpp REQUIRED)
add_library(mdcsrn_boost_math INTERFACE)
target_include_directories(mdcsrn_boost_math SYSTEM INTERFACE ${BOOST_MATH_INCLUDE_DIR})

# Single-precision FFTW with its threads, for the CPU k-space synthesis.
find_path(FFTW3_INCLUDE_DIR fftw3.h REQUIRED)
find_library(FFTW3F_LIBRARY NAMES fftw3f libfftw3f.so.3 REQUIRED)
find_library(FFTW3F_THREADS_LIBRARY NAMES fftw3f_threads libfftw3f_threads.so.3 REQUIRED)
add_library(mdcsrn_fftw INTERFACE)
target_include_directories(mdcsrn_fftw SYSTEM INTERFACE ${FFTW3_INCLUDE_DIR})
target_link_libraries(mdcsrn_fftw INTERFACE ${FFTW3F_THREADS_LIBRARY} ${FFTW3F_LIBRARY})

# cairo (libcairo2-dev) for the report figures, PNG and PDF; their text is DejaVu Sans
# (fonts-dejavu-core), which cairo finds through fontconfig at run time. Optional: a build without
# it (such as on a lent GPU machine) writes its reports without figures and says so.
set(MDCSRN_HAVE_CAIRO OFF)
if(NOT MDCSRN_FIGURES STREQUAL "OFF")
  find_path(CAIRO_INCLUDE_DIR cairo.h PATH_SUFFIXES cairo)
  find_library(CAIRO_LIBRARY NAMES cairo libcairo.so.2)
  if(CAIRO_INCLUDE_DIR AND CAIRO_LIBRARY)
    set(MDCSRN_HAVE_CAIRO ON)
    add_library(mdcsrn_cairo INTERFACE)
    target_include_directories(mdcsrn_cairo SYSTEM INTERFACE ${CAIRO_INCLUDE_DIR})
    target_link_libraries(mdcsrn_cairo INTERFACE ${CAIRO_LIBRARY})
  elseif(MDCSRN_FIGURES STREQUAL "ON")
    message(FATAL_ERROR "MDCSRN_FIGURES=ON but cairo was not found (Debian: libcairo2-dev)")
  endif()
endif()

# --- MPI (Open MPI from Debian: libopenmpi-dev, openmpi-bin), for data-parallel runs --------------
set(MDCSRN_HAVE_MPI OFF)
if(NOT MDCSRN_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(MDCSRN_HAVE_MPI ON)
  elseif(MDCSRN_MPI STREQUAL "ON")
    message(FATAL_ERROR "MDCSRN_MPI=ON but no MPI was found (Debian: libopenmpi-dev)")
  else()
    message(STATUS "MPI not found: data-parallel training is off")
  endif()
endif()

# --- CUDA -----------------------------------------------------------------------------------------
set(MDCSRN_HAVE_CUDA OFF)
if(NOT MDCSRN_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)   # H100 / H200; override with -DCMAKE_CUDA_ARCHITECTURES=...
    endif()
    enable_language(CUDA)
    # CMake 3.25 (Debian 12) predates nvcc's C++20 support: name the flag for it.
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(MDCSRN_HAVE_CUDA ON)
  elseif(MDCSRN_CUDA STREQUAL "ON")
    message(FATAL_ERROR "MDCSRN_CUDA=ON but no CUDA compiler was found")
  else()
    message(STATUS "nvcc not found: building the CPU engine only")
  endif()
endif()

if(MDCSRN_HAVE_CUDA)
  # cuDNN, cuBLAS and cuFFT may live outside the toolkit, e.g. only in a Python environment's
  # nvidia/* packages. MDCSRN_CUDA_LIBRARY_HINTS (a list of prefixes) is searched first.
  set(MDCSRN_CUDA_LIBRARY_HINTS "$ENV{MDCSRN_CUDA_LIBRARY_HINTS}" CACHE STRING
      "Prefixes (with include/ and lib/) searched first for cuDNN, cuBLAS and cuFFT")
  find_path(CUDNN_INCLUDE_DIR cudnn.h
            HINTS ${MDCSRN_CUDA_LIBRARY_HINTS} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include REQUIRED)
  find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9
               HINTS ${MDCSRN_CUDA_LIBRARY_HINTS} ${CUDAToolkit_LIBRARY_DIR} PATH_SUFFIXES lib lib64 REQUIRED)
  add_library(mdcsrn_cudnn INTERFACE)
  target_include_directories(mdcsrn_cudnn SYSTEM INTERFACE ${CUDNN_INCLUDE_DIR})
  target_link_libraries(mdcsrn_cudnn INTERFACE ${CUDNN_LIBRARY})
  message(STATUS "cuDNN: ${CUDNN_LIBRARY} (headers in ${CUDNN_INCLUDE_DIR})")
endif()

# --- NCCL (from the CUDA toolkit, or a Python environment's nvidia/nccl), for GPU ranks ------------
set(MDCSRN_HAVE_NCCL OFF)
if(MDCSRN_HAVE_CUDA AND NOT MDCSRN_NCCL STREQUAL "OFF")
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${MDCSRN_CUDA_LIBRARY_HINTS} ${CUDAToolkit_INCLUDE_DIRS} PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${MDCSRN_CUDA_LIBRARY_HINTS} ${CUDAToolkit_LIBRARY_DIR} ${CUDAToolkit_LIBRARY_ROOT}
               PATH_SUFFIXES lib lib64)
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(MDCSRN_HAVE_NCCL ON)
    add_library(mdcsrn_nccl INTERFACE)
    target_include_directories(mdcsrn_nccl SYSTEM INTERFACE ${NCCL_INCLUDE_DIR})
    target_link_libraries(mdcsrn_nccl INTERFACE ${NCCL_LIBRARY})
    message(STATUS "NCCL: ${NCCL_LIBRARY} (headers in ${NCCL_INCLUDE_DIR})")
  elseif(MDCSRN_NCCL STREQUAL "ON")
    message(FATAL_ERROR "MDCSRN_NCCL=ON but nccl.h or libnccl was not found")
  else()
    message(STATUS "NCCL not found: GPU ranks are off")
  endif()
endif()
