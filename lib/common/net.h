// Address helpers shared by the config checks and the API server.
#pragma once

#include <string_view>

namespace titand {

// Returns true for "localhost" (any case), an IPv4 literal in 127.0.0.0/8 and the IPv6
// literal "::1".
bool isLoopbackHost(std::string_view host);

}  // namespace titand
