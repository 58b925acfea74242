#pragma once
// The order in which a block stages voxels' 16-byte parts into padded shared-memory slots: piece i
// of a loop over voxels x parts stands for part (i / 8) % parts of voxel (i / (8 parts)) * 8 + i % 8,
// so that eight consecutive pieces (the lanes of one phase of 16-byte stores or cp.async copies)
// write one part of eight consecutive voxels. With a slot of an odd number of 16-byte units (the
// padding that lets ldmatrix read eight consecutive slots without conflicts) those eight land in
// eight distinct bank groups; voxel-major order put two parts of one voxel in a phase and made
// 2-way conflicts. A warp still covers the same voxels, so global sectors do not change. The
// voxel count must be a multiple of 8.
#include "kernels/simt/simt.h"

namespace mdcsrn {

struct SlotPiece {
  int voxel, part;
};

MDCSRN_DEVICE SlotPiece slot_piece(int piece, int parts) { return SlotPiece{piece / (8 * parts) * 8 + piece % 8, piece / 8 % parts}; }

}  // namespace mdcsrn
