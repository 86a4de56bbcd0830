#include "slacker/messages/cluster_reply.hpp"

namespace slacker {

const char* to_string(reply_shape x) {
  switch (x) {
    case reply_shape::single:
      return "single";
    case reply_shape::vector:
      return "vector";
    case reply_shape::map:
      return "map";
    case reply_shape::nil:
      return "nil";
    case reply_shape::whole:
      return "whole";
  }
  return "unknown";
}

} // namespace slacker
