-- Distinct error events on the store endpoint: every request has its own event id, exception
-- message and in-app function name, so the flood cut (which groups by exception type + in-app
-- frames) never triggers. BENCH_TEMPLATE is the event with @@ID@@ / @@N@@ markers; the requests
-- are built before the run (common.prebuilt).
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local tpl = common.template(common.read_file(os.getenv("BENCH_TEMPLATE")))
common.setup_request()

request = common.prebuilt(function(n)
  return wrk.format(nil, nil, nil, common.render(tpl, n))
end)
