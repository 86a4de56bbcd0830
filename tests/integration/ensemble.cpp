#define CAF_SUITE ensemble
#include <caf/test/unit_test.hpp>
