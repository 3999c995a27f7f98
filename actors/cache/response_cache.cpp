#include "actors/cache/response_cache.hpp"

// Implemented by the cache issue (in progress).
