#include "tests/redis/redis_support.hpp"
