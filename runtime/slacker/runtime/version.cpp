#include "slacker/runtime/version.hpp"

namespace slacker {

const char* version() noexcept {
  return SLACKER_VERSION;
}

} // namespace slacker
