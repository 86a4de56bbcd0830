#pragma once

// CAF 0.17's test framework has no REQUIRE with a message: fail with one.
#define SLACKER_REQUIRE(cond, msg)                                                       \
  do {                                                                                   \
    if (!(cond))                                                                         \
      CAF_FAIL("requirement failed: " #cond ": " << msg);                                \
  } while (false)
