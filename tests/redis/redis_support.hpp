#pragma once

// Helpers of the Redis tests (implemented with the connection tests): reading the fixture's env
// file, running an io_context until a callback fired, private servers.
