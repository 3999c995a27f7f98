-- GET /transactions/{tx_id} over a fixed set of stored ids ("c-1" ... "c-N", N from
-- KLERNO_BENCH_IDS), picked at random per request.
package.path = package.path .. ";" .. (os.getenv("KLERNO_BENCH_LUA") or ".") .. "/?.lua"
require "common"
local ids = tonumber(os.getenv("KLERNO_BENCH_IDS") or "1000")
local prefix = os.getenv("KLERNO_BENCH_ID_PREFIX") or "c-"
request = function()
  return wrk.format("GET", "/transactions/" .. prefix .. math.random(1, ids), headers)
end
