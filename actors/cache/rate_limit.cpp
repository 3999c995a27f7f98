#include "actors/cache/rate_limit.hpp"

// Implemented by the cache issue (in progress).
