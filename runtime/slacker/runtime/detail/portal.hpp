#pragma once

// The status portal (docs/operations.md, "The status portal"): HTML pages and
// their data as JSON, served beside /metrics and /health by the same
// embedded HTTP server. Read-only; every page and /api path asks for the
// token when `slacker.portal.token` is set.

#include <string>

struct mg_context;

namespace caf {
class actor_system_config;
} // namespace caf

namespace slacker::portal {

/// What the portal says of the configuration: `slacker.*` settings with their
/// value and where each came from, secrets masked (a JSON array). Taken
/// once, when the endpoint starts.
std::string config_report(const caf::actor_system_config& cfg);

/// Serves the pages and /api on `ctx`; `token` (may be empty: none asked)
/// guards them; `config` is `config_report`'s. Starts the sampler that
/// keeps a minute of call counts, one sample a second.
void install(mg_context* ctx, std::string token, std::string config);

} // namespace slacker::portal
