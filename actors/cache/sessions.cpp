#include "actors/cache/sessions.hpp"

// Implemented by the cache issue (in progress).
