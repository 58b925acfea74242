#pragma once
// The WGAN critic with explicit forward and backward over one device backend. Forward keeps every
// conv output, normalised output and activation for backward; two scratch buffers carry the
// gradients down. The batch may be smaller than the capacity the buffers were sized for.
//
// Built for second derivatives, backward also keeps every layer's gradients, and
// backward_of_input_gradient() carries a loss on the input gradient (the WGAN gradient penalty)
// back to the parameters: the backward of each op of backward, bottom to top, then a backward of
// the forward for what that passes to the forward's values. Only LayerNorm has a second-order term
// of its own (kernels/layernorm.h); LeakyReLU's second derivative is zero, and convolutions,
// pooling and the 1^3 layers are linear, so the backward of their backward is their forward and
// weight gradient with operands exchanged.
#include <algorithm>
#include <optional>
#include <vector>

#include "engine/memory.h"
#include "models/backend.h"
#include "models/critic_layout.h"

namespace mdcsrn {

enum class CriticDerivatives { First, Second };

template <class Backend>
class Critic {
 public:
  using T = typename Backend::Scalar;

  Critic(const CriticLayout& layout, Backend backend, int64_t capacity, CriticDerivatives derivatives = CriticDerivatives::First)
      : layout_(layout), be_(backend), capacity_(capacity), second_order_(derivatives == CriticDerivatives::Second) {
    MDCSRN_ASSERT(capacity >= 1, "critic: the batch capacity must be positive");
    const MemoryKind m = Backend::memory;
    int64_t widest = 0, widest_normalised = 0, widest_affine = 0;
    for (const CriticConvLayer& l : layout.convs()) {
      const int64_t count = capacity * per_sample(l);
      conv_out_.emplace_back(m, count);
      activated_.emplace_back(m, count);
      normalised_.emplace_back(m, l.norm_weight >= 0 ? count : 0);
      widest = std::max(widest, count);
      if (l.norm_weight >= 0) widest_normalised = std::max(widest_normalised, count);
      if (l.norm_weight >= 0) widest_affine = std::max(widest_affine, per_sample(l));
      if (second_order_) {
        upstream_.emplace_back(m, count);
        kept_dz_.emplace_back(m, l.norm_weight >= 0 ? count : 0);
        forward_value_grad_.emplace_back(m, l.norm_weight >= 0 ? count : 0);
      }
    }
    mean_ = Buffer<T>(m, capacity * int64_t(layout.convs().size()));
    invstd_ = Buffer<T>(m, capacity * int64_t(layout.convs().size()));
    const int64_t last = layout.convs().back().out_channels, hidden = layout.config().hidden;
    pooled_ = Buffer<T>(m, capacity * last);
    pooled_grad_ = Buffer<T>(m, capacity * last);
    hidden_ = Buffer<T>(m, capacity * hidden);
    hidden_activated_ = Buffer<T>(m, capacity * hidden);
    hidden_grad_ = Buffer<T>(m, capacity * hidden);
    grad_a_ = Buffer<T>(m, widest);
    grad_z_ = Buffer<T>(m, second_order_ ? 0 : widest_normalised);  // built for second derivatives, backward keeps dz per layer
    affine_scratch_ = Buffer<T>(m, 2 * widest_affine);
    if (second_order_) {
      adjoint_ = Buffer<T>(m, widest);
      adjoint_dz_ = Buffer<T>(m, widest);
      pooled_adjoint_ = Buffer<T>(m, capacity * last);
      hidden_adjoint_ = Buffer<T>(m, capacity * hidden);
    }
  }

  int64_t capacity() const { return capacity_; }

  // The convolutions' and linear layers' weights from `weights` (laid out like the parameters:
  // the spectrally normalised ones, models/critic_spectral_norm.h) instead of from the parameters;
  // nullptr: from the parameters again. Biases and LayerNorm affines always come from the
  // parameters, and gradients are those of the weights used.
  void read_weights_from(const T* weights) { weights_ = weights; }
  T eps = T(1e-5);  // LayerNorm's, as torch.nn.LayerNorm

  // x: [n, 1, P, P, P] with n <= capacity; scores: [n, 1, 1, 1, 1].
  void forward(const T* params, Tensor<const T> x, Tensor<T> scores) {
    const int64_t n = x.shape.n;
    check_batch(x, scores);
    const auto& convs = layout_.convs();
    const ActivationSpec act = layout_.config().activation();
    for (size_t l = 0; l < convs.size(); ++l) {
      const CriticConvLayer& L = convs[l];
      const Tensor<T> z = map(conv_out_[l], n, L), a = map(activated_[l], n, L);
      be_.conv_forward(L.conv, l == 0 ? x : Tensor<const T>(map(activated_[l - 1], n, convs[l - 1])), weight(params, L.weight),
                       P(params, L.bias), z);
      if (L.norm_weight < 0) {
        be_.activation_forward(act, z, a);
        continue;
      }
      const Tensor<T> y = map(normalised_[l], n, L);
      be_.layernorm_forward(z, P(params, L.norm_weight), P(params, L.norm_bias), eps, mean_.data() + l * capacity_,
                            invstd_.data() + l * capacity_, y);
      be_.activation_forward(act, y, a);
    }
    be_.global_avg_pool_forward(map(activated_.back(), n, convs.back()), pooled(n));
    be_.conv_forward(kConv1, pooled(n), weight(params, layout_.fc1_weight()), P(params, layout_.fc1_bias()), hidden(hidden_, n));
    be_.activation_forward(act, hidden(hidden_, n), hidden(hidden_activated_, n));
    be_.conv_forward(kConv1, hidden(hidden_activated_, n), weight(params, layout_.fc2_weight()), P(params, layout_.fc2_bias()), scores);
  }

  // Backward of the last forward for the score gradient dscores. With param_mode Overwrite or
  // Accumulate, every parameter gradient is written to (or added into) grads; with
  // param_mode == std::nullopt, only the input gradient is wanted (the generator's adversarial
  // term), and the weight-gradient convolutions are skipped. dx, when given, gets the input's
  // gradient under dx_mode.
  void backward(const T* params, T* grads, std::optional<GradMode> param_mode, Tensor<const T> x, Tensor<const T> dscores,
                Tensor<T>* dx = nullptr, GradMode dx_mode = GradMode::Overwrite) {
    const int64_t n = x.shape.n;
    check_batch(x, dscores);
    const auto& convs = layout_.convs();
    const ActivationSpec act = layout_.config().activation();
    const bool params_wanted = param_mode.has_value();
    const GradMode pm = param_mode.value_or(GradMode::Overwrite);

    const Tensor<T> dhidden = hidden(hidden_grad_, n);
    if (params_wanted)
      be_.conv_backward_weight(kConv1, hidden(hidden_activated_, n), dscores, G(grads, layout_.fc2_weight()), G(grads, layout_.fc2_bias()), pm);
    be_.conv_backward_data(kConv1, weight(params, layout_.fc2_weight()), dscores, dhidden, GradMode::Overwrite);
    be_.activation_backward(act, hidden(hidden_, n), dhidden, dhidden, GradMode::Overwrite);
    if (params_wanted)
      be_.conv_backward_weight(kConv1, pooled(n), dhidden, G(grads, layout_.fc1_weight()), G(grads, layout_.fc1_bias()), pm);
    const Tensor<T> dpooled(pooled_grad_.data(), pooled(n).shape);
    be_.conv_backward_data(kConv1, weight(params, layout_.fc1_weight()), dhidden, dpooled, GradMode::Overwrite);
    be_.global_avg_pool_backward(dpooled, upstream(n, convs.size() - 1), GradMode::Overwrite);

    for (size_t l = convs.size(); l-- > 0;) {
      const CriticConvLayer& L = convs[l];
      const Tensor<T> da = upstream(n, l);  // gradient of this layer's activation, then of its normalised output
      Tensor<T> dz = da;
      if (L.norm_weight < 0) {
        be_.activation_backward(act, map(conv_out_[l], n, L), da, da, GradMode::Overwrite);
      } else {
        be_.activation_backward(act, map(normalised_[l], n, L), da, da, GradMode::Overwrite);
        dz = map(second_order_ ? kept_dz_[l] : grad_z_, n, L);
        // The LayerNorm writes its input gradient and its affine gradients under one mode; the
        // input gradient must overwrite, so accumulating the affine ones starts from a zeroed dz.
        T* norm_weight_grad = G(grads, L.norm_weight);
        T* norm_bias_grad = G(grads, L.norm_bias);
        if (!params_wanted) norm_weight_grad = norm_bias_grad = nullptr;
        layernorm_backward(map(conv_out_[l], n, L), da, P(params, L.norm_weight), l, dz, norm_weight_grad, norm_bias_grad, pm);
      }
      const Tensor<const T> input = l == 0 ? x : Tensor<const T>(map(activated_[l - 1], n, convs[l - 1]));
      if (params_wanted) be_.conv_backward_weight(L.conv, input, dz, G(grads, L.weight), G(grads, L.bias), pm);
      if (l > 0)
        be_.conv_backward_data(L.conv, weight(params, L.weight), dz, upstream(n, l - 1), GradMode::Overwrite);
      else if (dx)
        be_.conv_backward_data(L.conv, weight(params, L.weight), dz, *dx, dx_mode);
    }
  }

  // For a loss on the input gradient dx of the last backward() (after forward() of the same x;
  // dscores as given to that backward), given its gradient dx_grad with respect to dx: adds that
  // loss's gradient of every parameter to grads. Needs a critic built with
  // CriticDerivatives::Second.
  void backward_of_input_gradient(const T* params, T* grads, Tensor<const T> x, Tensor<const T> dscores, Tensor<const T> dx_grad) {
    MDCSRN_ASSERT(second_order_, "critic: backward_of_input_gradient needs a critic built for second derivatives");
    const int64_t n = x.shape.n;
    check_batch(x, dscores);
    MDCSRN_ASSERT(dx_grad.shape == x.shape, "critic: the input gradient's gradient must be shaped like the input");
    const auto& convs = layout_.convs();
    const ActivationSpec act = layout_.config().activation();
    const GradMode add = GradMode::Accumulate;

    // Bottom to top through backward's ops: the gradient of each layer's activation gradient da
    // (adjoint_), of its conv-output gradient dz (adjoint_dz_), and what LayerNorm's backward
    // passes to its input z (forward_value_grad_).
    Tensor<const T> below = dx_grad;  // the gradient of the gradient of the layer's input
    for (size_t l = 0; l < convs.size(); ++l) {
      const CriticConvLayer& L = convs[l];
      const Tensor<T> dz_grad = map(adjoint_dz_, n, L), da_grad = map(adjoint_, n, L);
      be_.conv_forward(L.conv, below, weight(params, L.weight), nullptr, dz_grad);
      be_.conv_backward_weight(L.conv, below, kept_dz(n, l), G(grads, L.weight), nullptr, add);
      if (L.norm_weight < 0) {
        be_.activation_backward(act, map(conv_out_[l], n, L), dz_grad, da_grad, GradMode::Overwrite);
      } else {
        be_.layernorm_double_backward(map(conv_out_[l], n, L), upstream(n, l), P(params, L.norm_weight), mean_.data() + l * capacity_,
                                      invstd_.data() + l * capacity_, dz_grad, map(forward_value_grad_[l], n, L), da_grad,
                                      G(grads, L.norm_weight), add);
        be_.activation_backward(act, map(normalised_[l], n, L), da_grad, da_grad, GradMode::Overwrite);
      }
      below = map(adjoint_, n, L);
    }
    const Tensor<T> pooled_grad(pooled_adjoint_.data(), pooled(n).shape), hidden_grad = hidden(hidden_adjoint_, n);
    be_.global_avg_pool_forward(below, pooled_grad);
    be_.conv_forward(kConv1, pooled_grad, weight(params, layout_.fc1_weight()), nullptr, hidden_grad);
    be_.conv_backward_weight(kConv1, pooled_grad, hidden(hidden_grad_, n), G(grads, layout_.fc1_weight()), nullptr, add);
    be_.activation_backward(act, hidden(hidden_, n), hidden_grad, hidden_grad, GradMode::Overwrite);
    be_.conv_backward_weight(kConv1, hidden_grad, dscores, G(grads, layout_.fc2_weight()), nullptr, add);

    // Top to bottom through the forward, from what the LayerNorms passed to their inputs (the
    // score itself has no gradient here: nothing reaches the pooling or the 1^3 layers).
    bool upstream_grad = false;  // whether grad_a_ holds the gradient of this layer's activation
    for (size_t l = convs.size(); l-- > 0;) {
      const CriticConvLayer& L = convs[l];
      const Tensor<T> da = map(grad_a_, n, L);
      Tensor<T> dz = da;
      if (L.norm_weight < 0) {
        if (!upstream_grad) break;
        be_.activation_backward(act, map(conv_out_[l], n, L), da, da, GradMode::Overwrite);
      } else {
        dz = map(forward_value_grad_[l], n, L);
        if (upstream_grad) {
          be_.activation_backward(act, map(normalised_[l], n, L), da, da, GradMode::Overwrite);
          be_.layernorm_backward(map(conv_out_[l], n, L), da, P(params, L.norm_weight), mean_.data() + l * capacity_,
                                 invstd_.data() + l * capacity_, dz, G(grads, L.norm_weight), G(grads, L.norm_bias), add);
        }
      }
      const Tensor<const T> input = l == 0 ? x : Tensor<const T>(map(activated_[l - 1], n, convs[l - 1]));
      be_.conv_backward_weight(L.conv, input, dz, G(grads, L.weight), G(grads, L.bias), add);
      if (l > 0) be_.conv_backward_data(L.conv, weight(params, L.weight), dz, map(grad_a_, n, convs[l - 1]), GradMode::Overwrite);
      upstream_grad = true;
    }
  }

 private:
  static constexpr ConvParams kConv1{1, 1, 0};

  static int64_t per_sample(const CriticConvLayer& l) { return int64_t(l.out_channels) * l.output_edge * l.output_edge * l.output_edge; }
  Tensor<T> map(const Buffer<T>& b, int64_t n, const CriticConvLayer& l) const {
    return Tensor<T>(b.data(), Shape5{n, l.out_channels, l.output_edge, l.output_edge, l.output_edge});
  }
  // Where backward keeps the gradient of layer l's activation (in place: of its normalised output),
  // and of its conv output.
  Tensor<T> upstream(int64_t n, size_t l) const { return map(second_order_ ? upstream_[l] : grad_a_, n, layout_.convs()[l]); }
  Tensor<const T> kept_dz(int64_t n, size_t l) const {
    return map(layout_.convs()[l].norm_weight >= 0 ? kept_dz_[l] : upstream_[l], n, layout_.convs()[l]);
  }
  Tensor<T> pooled(int64_t n) const { return Tensor<T>(pooled_.data(), Shape5{n, layout_.convs().back().out_channels, 1, 1, 1}); }
  Tensor<T> hidden(const Buffer<T>& b, int64_t n) const { return Tensor<T>(b.data(), Shape5{n, layout_.config().hidden, 1, 1, 1}); }
  const T* P(const T* params, int index) const { return params + layout_.table().entry(index).offset; }
  const T* weight(const T* params, int index) const { return P(weights_ ? weights_ : params, index); }
  T* G(T* grads, int index) const { return grads + layout_.table().entry(index).offset; }

  void check_batch(Tensor<const T> x, Tensor<const T> scores) const {
    const int64_t e = layout_.config().patch;
    MDCSRN_ASSERT(x.shape.n >= 1 && x.shape.n <= capacity_, "critic: batch of " + std::to_string(x.shape.n) + " beyond capacity " +
                                                                 std::to_string(capacity_));
    MDCSRN_ASSERT((x.shape == Shape5{x.shape.n, 1, e, e, e}), "critic: the input must be [n, 1, " + std::to_string(e) + "^3], not " + x.shape.str());
    MDCSRN_ASSERT((scores.shape == Shape5{x.shape.n, 1, 1, 1, 1}), "critic: scores must be [n, 1, 1, 1, 1]");
  }

  // Affine gradients go to scratch when no parameter gradient is wanted.
  void layernorm_backward(Tensor<const T> z, Tensor<const T> dy, const T* weight, size_t l, Tensor<T> dz, T* dweight, T* dbias, GradMode pm) {
    const int64_t elements = z.shape.c * z.shape.spatial();
    if (!dweight) {
      dweight = affine_scratch_.data();
      dbias = affine_scratch_.data() + elements;
      pm = GradMode::Overwrite;
    }
    if (pm == GradMode::Accumulate) be_.zero(dz.data, dz.numel());
    be_.layernorm_backward(z, dy, weight, mean_.data() + l * capacity_, invstd_.data() + l * capacity_, dz, dweight, dbias, pm);
  }

  const CriticLayout& layout_;
  Backend be_;
  int64_t capacity_;
  bool second_order_;
  std::vector<Buffer<T>> conv_out_, normalised_, activated_;
  // Second derivatives: backward's gradients kept per layer, and what backward_of_input_gradient
  // passes to each LayerNorm's input.
  std::vector<Buffer<T>> upstream_, kept_dz_, forward_value_grad_;
  Buffer<T> adjoint_, adjoint_dz_, pooled_adjoint_, hidden_adjoint_;
  const T* weights_ = nullptr;
  Buffer<T> mean_, invstd_, pooled_, pooled_grad_, hidden_, hidden_activated_, hidden_grad_, grad_a_, grad_z_, affine_scratch_;
};

// Initial parameters (host memory, padded like the arena), PyTorch's defaults: conv weights and
// biases uniform in +-1/sqrt(fan_in), LayerNorm weight 1 and bias 0. Philox streams apart from the
// generator's, so one seed initialises both networks independently.
std::vector<float> initial_critic_parameters(const CriticLayout& layout, uint64_t seed);

}  // namespace mdcsrn
