#pragma once

namespace slacker {

/// The version of this slacker build (`MAJOR.MINOR.PATCH`, from CMake).
const char* version() noexcept;

} // namespace slacker
