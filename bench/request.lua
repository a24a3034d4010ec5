-- wrk script of scripts/bench: one fixed request per run, taken from the
-- environment (BENCH_METHOD, BENCH_BODY, BENCH_AUTH, a bearer token), so GET
-- and POST targets share one script and wrk keeps its pre-built request.
-- At the end it prints one JSON line (prefixed BENCH_JSON) for bench/bench.py.

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
local token = os.getenv("BENCH_AUTH")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["X-Device-ID"] = "bench-device"
  wrk.headers["X-Device-Type"] = "android"
  wrk.headers["X-Device-OS"] = "Android 14"
  wrk.headers["X-App-Version"] = "1.0.0"
end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "seconds": %.6f, "rps": %.3f, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, seconds, summary.requests / seconds, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, e.connect, e.read, e.write,
    e.status, e.timeout))
end
