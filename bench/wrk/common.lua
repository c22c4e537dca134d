-- Shared by every scenario script: request templates, cheap per-request variation, and a
-- machine-readable summary line for bench/run.ts. Settings come from environment variables so one
-- script serves cyclops and the baseline alike:
--   BENCH_PATH      request path (e.g. /api/1/store/)
--   BENCH_KEY       sentry_key for X-Sentry-Auth (omitted when empty)
--   BENCH_CTYPE     Content-Type (default application/json)
--   BENCH_SEED      20 hex digits, unique per run, so event ids never repeat between runs
local M = {}

function M.read_file(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
  local s = f:read("*a")
  f:close()
  return s
end

-- A template is the body split at its markers: @@ID@@ (a 32-hex event id) and @@N@@ (a decimal
-- counter). Rendering is one table.concat, so varying every request costs wrk almost nothing.
function M.template(text)
  local parts, kinds = {}, {}
  local pos = 1
  while true do
    local s, e, name = string.find(text, "@@(%u+)@@", pos)
    if not s then break end
    parts[#parts + 1] = string.sub(text, pos, s - 1)
    kinds[#kinds + 1] = name
    pos = e + 1
  end
  parts[#parts + 1] = string.sub(text, pos)
  return { parts = parts, kinds = kinds }
end

local seed = os.getenv("BENCH_SEED") or "00000000000000000000"
local buf = {}

function M.render(tpl, n)
  local id = seed .. string.format("%012x", n)
  local parts, kinds = tpl.parts, tpl.kinds
  local j = 0
  for i = 1, #kinds do
    j = j + 1
    buf[j] = parts[i]
    j = j + 1
    buf[j] = (kinds[i] == "ID") and id or tostring(n)
  end
  j = j + 1
  buf[j] = parts[#parts]
  for k = #buf, j + 1, -1 do buf[k] = nil end
  return table.concat(buf)
end

-- Requests made before the run (BENCH_PREBUILD of them, default 65,536) and sent in turn: wrk's
-- clock starts after its init hook, so rendering and formatting cost the measured run
-- nothing, and the load generator never becomes the bottleneck of the faster server. A body
-- recurs once every BENCH_PREBUILD requests (over a second apart at 50k/s: past the flood cut's
-- one-second window), and BENCH_SEED keeps event ids distinct between runs.
function M.prebuilt(make)
  local count = tonumber(os.getenv("BENCH_PREBUILD") or "65536")
  local reqs = {}
  -- Built in wrk's init hook, which runs after wrk has set the Host header and before the clock.
  init = function()
    for n = 1, count do reqs[n] = make(n) end
  end
  local i = 0
  return function()
    i = i + 1
    if i > count then i = 1 end
    return reqs[i]
  end
end

function M.setup_request(extra_headers)
  wrk.method = "POST"
  wrk.path = os.getenv("BENCH_PATH") or "/api/1/store/"
  wrk.headers["Content-Type"] = os.getenv("BENCH_CTYPE") or "application/json"
  local key = os.getenv("BENCH_KEY") or ""
  if key ~= "" then
    wrk.headers["X-Sentry-Auth"] = "Sentry sentry_version=7, sentry_client=bench/1.0, sentry_key=" .. key
  end
  for k, v in pairs(extra_headers or {}) do wrk.headers[k] = v end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"mean_us":%.1f,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end

return M
