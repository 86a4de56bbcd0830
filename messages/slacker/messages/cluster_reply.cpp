#include "slacker/messages/cluster_reply.hpp"
#include "slacker/messages/names.hpp"

namespace slacker {

constexpr name_entry<reply_shape> shape_names[] = {
    {reply_shape::single, "single"}, {reply_shape::vector, "vector"},
    {reply_shape::map, "map"},       {reply_shape::nil, "nil"},
    {reply_shape::whole, "whole"},
};

const char* to_string(reply_shape x) {
  return name_in(shape_names, x);
}

} // namespace slacker
