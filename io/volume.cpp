#include "io/volume.h"

#include <nifti2_io.h>

#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <unistd.h>

#include "engine/error.h"

namespace mdcsrn {

struct NiftiHeader {
  explicit NiftiHeader(nifti_image* owned) : nim(owned) {}
  ~NiftiHeader() { nifti_image_free(nim); }
  NiftiHeader(const NiftiHeader&) = delete;
  NiftiHeader& operator=(const NiftiHeader&) = delete;
  nifti_image* nim;
};

namespace {

namespace fs = std::filesystem;

struct NiftiDeleter {
  void operator()(nifti_image* p) const {
    if (p) nifti_image_free(p);
  }
};
using NiftiPtr = std::unique_ptr<nifti_image, NiftiDeleter>;

[[noreturn]] void file_error(const std::string& path, const std::string& problem) { fail(path + ": " + problem); }

template <class T>
void convert_voxels(const nifti_image* nim, std::vector<float>& out) {
  const T* src = static_cast<const T*>(nim->data);
  const bool scaled = nim->scl_slope != 0.0 && !(nim->scl_slope == 1.0 && nim->scl_inter == 0.0);
  for (size_t v = 0; v < out.size(); ++v) {
    const double x = double(src[v]);
    out[v] = float(scaled ? x * nim->scl_slope + nim->scl_inter : x);
  }
}

// nifticlib silently turns NaN and Inf voxels into zeros while loading, so floating-point data is
// read a second time, raw, to find them. Returns the first such voxel, or -1.
int64_t first_non_finite_voxel(const nifti_image* nim) {
  if (nim->datatype != DT_FLOAT32 && nim->datatype != DT_FLOAT64) return -1;
  znzFile file = znzopen(nim->iname, "rb", nifti_is_gzfile(nim->iname));
  if (znz_isnull(file)) return -1;
  const size_t bytes = size_t(nim->nvox) * size_t(nim->nbyper);
  std::vector<unsigned char> raw(bytes);
  const bool complete = znzseek(file, nim->iname_offset, SEEK_SET) >= 0 && znzread(raw.data(), 1, bytes, file) == bytes;
  znzclose(file);
  if (!complete) return -1;
  if (nim->byteorder != nifti_short_order()) nifti_swap_Nbytes(int64_t(nim->nvox), nim->nbyper, raw.data());
  for (int64_t v = 0; v < nim->nvox; ++v) {
    double x;
    if (nim->datatype == DT_FLOAT32) {
      float f;
      std::memcpy(&f, raw.data() + 4 * v, 4);
      x = f;
    } else {
      std::memcpy(&x, raw.data() + 8 * v, 8);
    }
    if (!std::isfinite(x)) return v;
  }
  return -1;
}

void rename_into_place(const std::string& temporary, const std::string& path) {
  std::error_code ec;
  fs::rename(temporary, path, ec);
  if (ec) {
    fs::remove(temporary, ec);
    file_error(path, "cannot move the finished file into place");
  }
}

}  // namespace

std::string temporary_name(const std::string& path) {
  const fs::path p(path);
  std::string name = p.filename().string();
  std::string extension;
  for (const char* ext : {".nii.gz", ".nii", ".json", ".csv", ".md"})
    if (name.size() > std::string(ext).size() && name.ends_with(ext)) {
      extension = ext;
      name.resize(name.size() - extension.size());
      break;
    }
  return (p.parent_path() / ("." + name + ".tmp" + std::to_string(getpid()) + extension)).string();
}

Tensor<const float> Volume::tensor() const { return Tensor<const float>(data.data(), Shape5{1, 1, dims[2], dims[1], dims[0]}); }

Affine Volume::voxel_to_world() const {
  const nifti_image* h = header->nim;
  const nifti_dmat44& m = h->sform_code > 0 ? h->sto_xyz : h->qto_xyz;
  Affine a{};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) a[size_t(r)][size_t(c)] = m.m[r][c];
  return a;
}

std::array<double, 3> Volume::voxel_size() const {
  const Affine a = voxel_to_world();
  std::array<double, 3> size{};
  for (int c = 0; c < 3; ++c)
    size[size_t(c)] = std::sqrt(a[0][size_t(c)] * a[0][size_t(c)] + a[1][size_t(c)] * a[1][size_t(c)] + a[2][size_t(c)] * a[2][size_t(c)]);
  return size;
}

Volume Volume::like(std::vector<float> values) const {
  MDCSRN_ASSERT(int64_t(values.size()) == voxels(), "Volume::like: wrong number of voxels");
  Volume v;
  v.dims = dims;
  v.data = std::move(values);
  v.header = header;
  v.source = source;
  return v;
}

Volume new_volume(const std::array<int64_t, 3>& dims, const Affine& voxel_to_world) {
  const int64_t nifti_dims[8] = {3, dims[0], dims[1], dims[2], 1, 1, 1, 1};
  NiftiPtr nim(nifti_make_new_nim(nifti_dims, DT_FLOAT32, 0));
  MDCSRN_ASSERT(nim != nullptr, "new_volume: cannot make a NIfTI header");
  nim->nifti_type = NIFTI_FTYPE_NIFTI1_1;
  nim->xyz_units = NIFTI_UNITS_MM;
  nim->qform_code = nim->sform_code = NIFTI_XFORM_SCANNER_ANAT;
  nim->sto_xyz = nifti_dmat44{};
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c) nim->sto_xyz.m[r][c] = voxel_to_world[size_t(r)][size_t(c)];
  nim->sto_ijk = nifti_dmat44_inverse(nim->sto_xyz);
  // The qform: the nearest rotation, scales and offsets (exact for grids without shear).
  double qfac = 1;
  nifti_dmat44_to_quatern(nim->sto_xyz, &nim->quatern_b, &nim->quatern_c, &nim->quatern_d, &nim->qoffset_x, &nim->qoffset_y, &nim->qoffset_z,
                          &nim->dx, &nim->dy, &nim->dz, &qfac);
  nim->qfac = qfac;
  nim->pixdim[0] = qfac;
  nim->pixdim[1] = nim->dx, nim->pixdim[2] = nim->dy, nim->pixdim[3] = nim->dz;
  nim->qto_xyz = nifti_quatern_to_dmat44(nim->quatern_b, nim->quatern_c, nim->quatern_d, nim->qoffset_x, nim->qoffset_y, nim->qoffset_z,
                                         nim->dx, nim->dy, nim->dz, nim->qfac);
  nim->qto_ijk = nifti_dmat44_inverse(nim->qto_xyz);
  Volume v;
  v.dims = dims;
  v.data.assign(static_cast<size_t>(dims[0] * dims[1] * dims[2]), 0.f);
  v.source = "(new volume)";
  v.header = std::make_shared<const NiftiHeader>(nim.release());
  return v;
}

Volume new_volume(const std::array<int64_t, 3>& dims, const std::array<double, 3>& spacing, const std::array<double, 3>& origin) {
  Affine a{};
  for (size_t r = 0; r < 3; ++r) {
    a[r][r] = spacing[r];
    a[r][3] = origin[r];
  }
  a[3][3] = 1;
  return new_volume(dims, a);
}

namespace {

// The header's checks, common to reading a volume and probing one: one 3-D scalar volume of a
// supported voxel type. With read_data, the voxels are read too.
NiftiPtr open_volume(const std::string& path, bool read_data) {
  nifti_set_debug_level(0);  // our one-line errors replace nifticlib's own messages
  std::error_code ec;
  if (!fs::exists(path, ec)) file_error(path, "no such file");
  if (fs::is_directory(path, ec)) file_error(path, "is a directory, not a NIfTI file");
  NiftiPtr nim(nifti_image_read(path.c_str(), read_data ? 1 : 0));
  if (!nim) file_error(path, "not a readable NIfTI file (corrupt, truncated, or another format)");
  if (read_data && !nim->data) file_error(path, "voxel data could not be read (truncated file?)");
  if (nim->nx < 2 || nim->ny < 2 || nim->nz < 2) file_error(path, "not a 3-D volume (dimensions " +
      std::to_string(nim->nx) + "x" + std::to_string(nim->ny) + "x" + std::to_string(nim->nz) + ")");
  for (int d = 4; d <= nim->dim[0] && d < 8; ++d)
    if (nim->dim[d] > 1) file_error(path, "holds " + std::to_string(nim->dim[d]) + " volumes along dimension " + std::to_string(d) + "; expected one 3-D volume");
  switch (nim->datatype) {
    case DT_UINT8: case DT_INT16: case DT_UINT16: case DT_INT32: case DT_FLOAT32: case DT_FLOAT64: break;
    default: file_error(path, std::string("unsupported voxel type ") + nifti_datatype_string(nim->datatype) +
                                  " (expected uint8, int16, uint16, int32, float32 or float64)");
  }
  return nim;
}

// A gzip file's last four bytes (ISIZE): its uncompressed length modulo 2^32, when it is one gzip
// member as NIfTI writers make it.
std::optional<uint32_t> gzip_length_trailer(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in || in.tellg() < 18) return std::nullopt;  // shorter than an empty gzip member
  in.seekg(-4, std::ios::end);
  unsigned char b[4];
  if (!in.read(reinterpret_cast<char*>(b), 4)) return std::nullopt;
  return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
}

}  // namespace

Volume read_volume_header(const std::string& path) {
  NiftiPtr nim = open_volume(path, false);
  // Whether the voxels are all there: an uncompressed file's length says so; a compressed one's
  // trailer does when it holds one member, and where it disagrees (a cut file, or several members)
  // reading the voxels decides.
  const uintmax_t needed = uintmax_t(nim->iname_offset) + uintmax_t(nim->nvox) * uintmax_t(nim->nbyper);
  if (nifti_is_gzfile(path.c_str()) == 0) {
    std::error_code ec;
    const uintmax_t length = fs::file_size(path, ec);
    if (!ec && length < needed)
      file_error(path, "truncated: " + std::to_string(length) + " bytes, its header describes " + std::to_string(needed));
  } else if (gzip_length_trailer(path) != uint32_t(needed)) {
    open_volume(path, true);
  }
  Volume v;
  v.dims = {nim->nx, nim->ny, nim->nz};
  v.source = path;
  v.header = std::make_shared<const NiftiHeader>(nim.release());
  return v;
}

Volume read_volume(const std::string& path) {
  NiftiPtr nim = open_volume(path, true);
  Volume v;
  v.dims = {nim->nx, nim->ny, nim->nz};
  v.data.resize(static_cast<size_t>(v.voxels()));
  v.source = path;
  switch (nim->datatype) {
    case DT_UINT8: convert_voxels<uint8_t>(nim.get(), v.data); break;
    case DT_INT16: convert_voxels<int16_t>(nim.get(), v.data); break;
    case DT_UINT16: convert_voxels<uint16_t>(nim.get(), v.data); break;
    case DT_INT32: convert_voxels<int32_t>(nim.get(), v.data); break;
    case DT_FLOAT32: convert_voxels<float>(nim.get(), v.data); break;
    case DT_FLOAT64: convert_voxels<double>(nim.get(), v.data); break;
    default: break;  // refused by open_volume
  }
  int64_t bad = first_non_finite_voxel(nim.get());
  for (size_t i = 0; i < v.data.size() && bad < 0; ++i)
    if (!std::isfinite(v.data[i])) bad = int64_t(i);  // e.g. an integer scaled out of float range
  if (bad >= 0) {
    const int64_t a = bad % v.dims[0], b = bad / v.dims[0] % v.dims[1], c = bad / (v.dims[0] * v.dims[1]);
    file_error(path, "voxel (" + std::to_string(a) + ", " + std::to_string(b) + ", " + std::to_string(c) + ") is NaN or infinite");
  }
  free(nim->data);
  nim->data = nullptr;
  v.header = std::make_shared<const NiftiHeader>(nim.release());
  return v;
}

void write_volume(const Volume& volume, const std::string& path, const std::string& description) {
  MDCSRN_ASSERT(volume.header != nullptr, path + ": volume has no geometry to write");
  MDCSRN_ASSERT(int64_t(volume.data.size()) == volume.voxels(), path + ": voxel count does not match the dimensions");
  NiftiPtr nim(nifti_copy_nim_info(volume.header->nim));
  if (!nim) file_error(path, "cannot prepare the NIfTI header");
  nim->datatype = DT_FLOAT32;
  nifti_datatype_sizes(DT_FLOAT32, &nim->nbyper, &nim->swapsize);
  nim->scl_slope = 0.0;  // stored values are the values
  nim->scl_inter = 0.0;
  nim->cal_min = nim->cal_max = 0.0;
  if (nim->nifti_type == NIFTI_FTYPE_ANALYZE) nim->nifti_type = NIFTI_FTYPE_NIFTI1_1;
  nim->dim[0] = nim->ndim = 3;
  nim->dim[4] = nim->nt = 1;
  nifti_update_dims_from_array(nim.get());
  std::snprintf(nim->descrip, sizeof nim->descrip, "%s", description.c_str());

  const std::string temporary = temporary_name(path);
  if (nifti_set_filenames(nim.get(), temporary.c_str(), 0, 1) != 0) file_error(path, "unsupported output file name (use .nii or .nii.gz)");
  nim->data = const_cast<float*>(volume.data.data());
  nifti_image_write(nim.get());
  nim->data = nullptr;  // owned by `volume`
  std::error_code ec;
  const auto expected = uintmax_t(volume.voxels()) * 4;
  const auto written = fs::file_size(temporary, ec);
  // A .nii holds header + data; a .nii.gz is compressed, so only require that it exists.
  if (ec || (!temporary.ends_with(".gz") && written < expected)) {
    fs::remove(temporary, ec);
    file_error(path, "could not be written (disk full or folder not writable?)");
  }
  rename_into_place(temporary, path);
}

void require_same_grid(const Volume& a, const Volume& b, const std::string& what) {
  if (a.dims != b.dims)
    fail(what + ": grid " + std::to_string(b.dims[0]) + "x" + std::to_string(b.dims[1]) + "x" + std::to_string(b.dims[2]) +
         " does not match " + a.source + " (" + std::to_string(a.dims[0]) + "x" + std::to_string(a.dims[1]) + "x" +
         std::to_string(a.dims[2]) + ")");
  const Affine fa = a.voxel_to_world(), fb = b.voxel_to_world();
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c)
      if (std::fabs(fa[size_t(r)][size_t(c)] - fb[size_t(r)][size_t(c)]) > 1e-3)
        fail(what + ": voxel-to-world affine differs from that of " + a.source + " (same dimensions, different placement)");
}

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string temporary = temporary_name(path);
  {
    std::ofstream out(temporary, std::ios::binary);
    out << text;
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(temporary, ec);
      file_error(path, "could not be written");
    }
  }
  rename_into_place(temporary, path);
}

}  // namespace mdcsrn
