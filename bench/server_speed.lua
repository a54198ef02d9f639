-- wrk script of bench/server_speed.py: counts the answers other than 200 (wrk's own count lets 3xx pass, and a
-- redirect to the sign-in page is a failure here) and prints the figures the bench reads.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  not_200 = 0
end

function response(status, headers, body)
  if status ~= 200 then
    not_200 = not_200 + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("not_200")
  end
  local errors = summary.errors
  io.write(string.format("BENCH requests %d\n", summary.requests))
  io.write(string.format("BENCH not_200 %d\n", total))
  io.write(string.format("BENCH socket_errors %d\n", errors.connect + errors.read + errors.write + errors.timeout))
  io.write(string.format("BENCH p50_us %d\n", latency:percentile(50)))
  io.write(string.format("BENCH p99_us %d\n", latency:percentile(99)))
end
