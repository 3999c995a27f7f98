#include "actors/cache/realtime.hpp"

// Implemented by the cache issue (in progress).
