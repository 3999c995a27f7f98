#include "actors/cache/redis/connection.hpp"
