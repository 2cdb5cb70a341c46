-- Shared by the bench scripts: print one JSON line that bench/load.py parses.
local report = {}

local threads = {}

function report.setup(thread)
  table.insert(threads, thread)
end

function report.done(summary, latency, counters)
  local extra = {}
  for _, name in ipairs(counters or {}) do
    local total = 0
    for _, thread in ipairs(threads) do
      total = total + (thread:get(name) or 0)
    end
    table.insert(extra, string.format('"%s":%d', name, total))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"mean_us":%.1f,"status_errors":%d,"socket_errors":%d%s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, e.status,
    e.connect + e.read + e.write + e.timeout,
    (#extra > 0) and ("," .. table.concat(extra, ",")) or ""))
end

return report
