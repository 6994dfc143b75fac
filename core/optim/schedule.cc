#include "core/optim/schedule.h"

#include <cmath>
#include <numbers>

#include "base/check.h"

namespace edbp {

double CosineAnnealingLr(double base_lr, int64_t epoch, int64_t epochs) {
  EDBP_CHECK(epoch >= 1 && epochs >= 1) << "epoch " << epoch << " of " << epochs;
  // §10: η_min = 0.
  const double phase =
      std::numbers::pi * static_cast<double>(epoch - 1) / static_cast<double>(epochs);
  return base_lr * 0.5 * (1.0 + std::cos(phase));
}

}  // namespace edbp
