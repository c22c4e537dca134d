-- Distinct error events spread at random over BENCH_PROJECTS projects, each with its own key
-- (project p's key is p as 32 hex digits, as bench/lib/sustained.ts configures cyclops). The
-- requests are built before the run (common.prebuilt).
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tpl = common.template(common.read_file(os.getenv("BENCH_TEMPLATE")))
common.setup_request()
local projects = tonumber(os.getenv("BENCH_PROJECTS") or "1")
local paths, headers = {}, {}
for p = 1, projects do
  paths[p] = "/api/" .. p .. "/store/"
  headers[p] = {
    ["Content-Type"] = "application/json",
    ["X-Sentry-Auth"] = "Sentry sentry_version=7, sentry_client=bench/1.0, sentry_key=" .. string.format("%032x", p),
  }
end

request = common.prebuilt(function(n)
  local p = math.random(projects)
  return wrk.format(nil, paths[p], headers[p], common.render(tpl, n))
end)
