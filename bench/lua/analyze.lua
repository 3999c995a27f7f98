-- POST /analyze/tx with a fresh transaction per request.
package.path = package.path .. ";" .. (os.getenv("KLERNO_BENCH_LUA") or ".") .. "/?.lua"
require "common"
request = function()
  return wrk.format("POST", "/analyze/tx", headers, next_tx())
end
