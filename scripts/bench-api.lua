-- wrk script for scripts/bench-api.sh: every request is a GET of a path picked at random from a
-- file (one path per line), so consecutive requests hit different queries (ClickHouse caches can
-- make one repeated query look far faster than real traffic). Usage:
--   SENDOPS_BENCH_TOKEN=sk_live_... wrk ... -s scripts/bench-api.lua URL -- PATHS_FILE
local paths = {}
local token = os.getenv("SENDOPS_BENCH_TOKEN") or ""

function init(args)
  for line in io.lines(args[1]) do
    if line ~= "" then
      paths[#paths + 1] = line
    end
  end
  -- A different sequence per wrk thread.
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 100000)
end

function request()
  local path = paths[math.random(#paths)]
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end
