// The one translation unit with CAF's test runner (it defines main).
#include <caf/test/unit_test_impl.hpp>
