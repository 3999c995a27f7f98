#pragma once

// Keeps diagnostic text (typically a node's log) for the running Catch test case and prints it
// when, and only when, that test case fails. The files it came from may be gone by then: the
// text is copied.

#include <string>

namespace klerno::test {

/// Keeps `text` under `title` until the running test case ends; prints both if it failed.
void keep_for_failure_report(std::string title, std::string text);

} // namespace klerno::test
