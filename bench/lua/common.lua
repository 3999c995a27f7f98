-- Shared by the wrk scripts: unique tx_ids per thread and request, a fixed set of wallets.
local counter = 0
local thread_tag = tostring(math.random(1, 1e9))
local run_tag = os.getenv("KLERNO_BENCH_RUN") or tostring(os.time())
local wallets = tonumber(os.getenv("KLERNO_BENCH_WALLETS") or "1000")

function setup(thread)
  thread:set("thread_tag", tostring(math.random(1, 1e9)))
end

function init(args)
  thread_tag = _G.thread_tag or thread_tag
end

function next_tx()
  counter = counter + 1
  local wallet = "rW" .. math.random(1, wallets)
  local amount = math.random(1, 20000) .. "." .. math.random(0, 99)
  return string.format(
    '{"tx_id":"b-%s-%s-%d","from_addr":"%s","to_addr":"rD%d","amount":%s,' ..
    '"direction":"out","fee":0.2,"memo":"payment %d","tags":["bench"]}',
    run_tag, thread_tag, counter, wallet, math.random(1, 5000), amount, counter)
end

headers = {["Content-Type"] = "application/json", ["X-API-Key"] = os.getenv("KLERNO_BENCH_KEY") or "dev-api-key"}
