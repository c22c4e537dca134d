-- Envelope ingest as modern SDKs send it: an envelope header (event_id, sent_at, sdk, dsn-less),
-- then one event item with its length. Each request is a distinct event (see store-distinct.lua).
-- BENCH_TEMPLATE is the event, BENCH_ENVELOPE_HEADER the header line; both carry markers.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local event = common.template(common.read_file(os.getenv("BENCH_TEMPLATE")))
local header = common.template(common.read_file(os.getenv("BENCH_ENVELOPE_HEADER")))
common.setup_request()
local n = 0

function request()
  n = n + 1
  local payload = common.render(event, n)
  local body = common.render(header, n) .. '\n{"type":"event","length":' .. #payload .. '}\n' .. payload .. '\n'
  return wrk.format(nil, nil, nil, body)
end
