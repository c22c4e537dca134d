-- gzip-encoded store bodies (Content-Encoding: gzip), precompressed by bench/run.ts: BENCH_GZIP_FILE
-- holds many distinct events, each as "<length>\n<gzip bytes>". Enough variants that, cycled in
-- turn, no error repeats more than a few times a second, so the flood cut stays out of the way.
local common = dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
common.setup_request({ ["Content-Encoding"] = "gzip" })
local data = common.read_file(os.getenv("BENCH_GZIP_FILE"))
local reqs = nil
local i = 0

-- Built on first use: wrk adds the Host header only when the thread starts.
local function build()
  reqs = {}
  local pos = 1
  while pos <= #data do
    local nl = string.find(data, "\n", pos, true)
    local len = tonumber(string.sub(data, pos, nl - 1))
    reqs[#reqs + 1] = wrk.format(nil, nil, nil, string.sub(data, nl + 1, nl + len))
    pos = nl + 1 + len
  end
end

function request()
  if not reqs then build() end
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end
