-- POST /transactions/batch with KLERNO_BENCH_BATCH fresh transactions per request.
package.path = package.path .. ";" .. (os.getenv("KLERNO_BENCH_LUA") or ".") .. "/?.lua"
require "common"
local size = tonumber(os.getenv("KLERNO_BENCH_BATCH") or "1000")
request = function()
  local items = {}
  for i = 1, size do
    items[i] = next_tx()
  end
  return wrk.format("POST", "/transactions/batch", headers, "[" .. table.concat(items, ",") .. "]")
end
