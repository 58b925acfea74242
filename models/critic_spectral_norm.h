#pragma once
// wgan.lipschitz = "spectral": every critic convolution and linear layer used as W / sigma(W)
// (kernels/spectral_norm.h), sigma from persistent vectors u and v. The raw weights stay in the
// critic's arena, where Adam updates them; the normalised ones live in a buffer laid out like the
// arena, which the critic reads its weights from (Critic::read_weights_from). Per critic step:
// power iteration on the current weights, then sigma and the normalised weights; after the
// critic's backward, its weight gradients are carried back through the normalisation. The vectors
// are part of the training state (checkpoints carry them; a resumed run continues exactly).
#include <vector>

#include "engine/error.h"
#include "engine/memory.h"
#include "models/critic_layout.h"

namespace mdcsrn {

// Where each weight's u and v sit in the vectors (u then v, weight by weight, in
// CriticLayout::weight_matrices() order), and how many floats they take in all.
struct SpectralVectorLayout {
  std::vector<int64_t> u, v;
  int64_t size = 0;
  explicit SpectralVectorLayout(const CriticLayout& layout) {
    for (const CriticWeightMatrix& m : layout.weight_matrices()) {
      u.push_back(size);
      v.push_back(size + m.rows);
      size += m.rows + m.columns;
    }
  }
};

// The starting vectors for the raw parameters `params` (host, arena layout): v uniform in [-1, 1]
// from the seed's own Philox streams, normalised, then 15 power iterations, as PyTorch starts
// (from normal draws: any start not orthogonal to the top singular vectors converges alike).
std::vector<float> initial_spectral_vectors(const CriticLayout& layout, const std::vector<float>& params, uint64_t seed);

template <class Backend>
class CriticSpectralNorm {
 public:
  using T = typename Backend::Scalar;

  CriticSpectralNorm(const CriticLayout& layout, Backend be, int power_iterations)
      : matrices_(layout.weight_matrices()), vector_layout_(layout), be_(be), iterations_(power_iterations),
        vectors_(Backend::memory, vector_layout_.size), sigmas_(Backend::memory, int64_t(matrices_.size())),
        normalised_(Backend::memory, layout.table().padded_size()), layout_(layout) {
    vectors_.zero();
    normalised_.zero();
  }

  // u and v of every weight (SpectralVectorLayout): zero until set, e.g. from
  // initial_spectral_vectors or a checkpoint (from zero, sigma would be 0).
  Buffer<T>& vectors() { return vectors_; }
  void set_vectors(const std::vector<T>& host) {
    MDCSRN_ASSERT(int64_t(host.size()) == vectors_.size(), "spectral normalisation: " + std::to_string(host.size()) + " vector values for " +
                                                               std::to_string(vectors_.size()));
    vectors_.upload(host);
  }
  const Buffer<T>& sigmas() const { return sigmas_; }
  const T* weights() const { return normalised_.data(); }  // W / sigma at the raw weights' offsets

  // The power iterations of a critic step, on the current raw weights.
  void iterate(const T* params) {
    for (size_t k = 0; k < matrices_.size(); ++k) {
      const CriticWeightMatrix& m = matrices_[k];
      be_.spectral_power_iteration(params + offset(m), m.rows, m.columns, u(k), v(k), iterations_);
    }
  }
  // sigma and W / sigma of every weight, from the current raw weights and vectors.
  void normalise(const T* params) {
    for (size_t k = 0; k < matrices_.size(); ++k) {
      const CriticWeightMatrix& m = matrices_[k];
      be_.spectral_normalise(params + offset(m), m.rows, m.columns, u(k), v(k), sigmas_.data() + k, normalised_.data() + offset(m));
    }
  }
  // In place: the gradients of the normalised weights become those of the raw ones (the critic's
  // other gradients are untouched).
  void backward(T* grads) {
    for (size_t k = 0; k < matrices_.size(); ++k) {
      const CriticWeightMatrix& m = matrices_[k];
      be_.spectral_normalise_backward(normalised_.data() + offset(m), m.rows, m.columns, u(k), v(k), sigmas_.data() + k, grads + offset(m));
    }
  }

 private:
  int64_t offset(const CriticWeightMatrix& m) const { return layout_.table().entry(m.weight).offset; }
  T* u(size_t k) { return vectors_.data() + vector_layout_.u[k]; }
  T* v(size_t k) { return vectors_.data() + vector_layout_.v[k]; }

  std::vector<CriticWeightMatrix> matrices_;
  SpectralVectorLayout vector_layout_;
  Backend be_;
  int iterations_;
  Buffer<T> vectors_, sigmas_, normalised_;
  const CriticLayout& layout_;
};

}  // namespace mdcsrn
