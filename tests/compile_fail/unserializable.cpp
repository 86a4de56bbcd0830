// Must not compile: a function whose argument type no codec can carry. The
// build stops naming the type (tests/CMakeLists.txt checks the message).
#include "slacker/actors/namespace.hpp"

struct no_codec_type {
  int x = 0;
};

slacker::ns broken() {
  return slacker::ns("test").def(
      "f", [](no_codec_type v) { return v.x; }, "");
}
