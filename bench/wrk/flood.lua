-- The flood path: one error sent over and over (same body, same event id). Past MAX_CACHE_USES in
-- a URL_CACHE_EXPIRATION window, cyclops answers and drops it without queueing.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tpl = common.template(common.read_file(os.getenv("BENCH_TEMPLATE")))
common.setup_request()
-- Built on first use: wrk adds the Host header only when the thread starts.
local req

function request()
  if not req then req = wrk.format(nil, nil, nil, common.render(tpl, 0)) end
  return req
end
