-- POST /transactions with a fresh tx_id per request (every request stores a row).
package.path = package.path .. ";" .. (os.getenv("KLERNO_BENCH_LUA") or ".") .. "/?.lua"
require "common"
request = function()
  return wrk.format("POST", "/transactions", headers, next_tx())
end
