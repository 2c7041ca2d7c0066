-- wrk script for bench/serve-load.sh: POST /api/ground with a bundled sample (JSON), counting responses by kind.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"sample":"shapes-1","phrases":["the red circle","the blue square"]}'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  ok, busy, busy_without_retry_after, other = 0, 0, 0, 0
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  elseif status == 503 then
    busy = busy + 1
    if headers["Retry-After"] == nil then busy_without_retry_after = busy_without_retry_after + 1 end
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local total = { ok = 0, busy = 0, busy_without_retry_after = 0, other = 0 }
  for _, t in ipairs(threads) do
    for k, _ in pairs(total) do total[k] = total[k] + t:get(k) end
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d ok=%d busy503=%d busy503_without_retry_after=%d other_non2xx=%d socket_errors=%d rps=%.1f p50_ms=%.1f p99_ms=%.1f\n",
    summary.requests, total.ok, total.busy, total.busy_without_retry_after, total.other,
    e.connect + e.read + e.write + e.timeout, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
