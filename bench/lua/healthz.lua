-- GET /healthz: the reference request of the cache benchmark (no guard, no I/O).
request = function()
  return wrk.format("GET", "/healthz")
end
