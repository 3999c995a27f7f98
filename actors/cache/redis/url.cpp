#include "actors/cache/redis/url.hpp"
