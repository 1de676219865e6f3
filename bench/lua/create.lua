-- create: POST to the URL of the command line, one new row per request.
-- Numbers are unique per run, thread and request (Palisade's billing
-- example declares `number` unique per owner). BENCH_CREATE_EXTRA is
-- appended to the JSON object (Palisade's invoice needs a `customer`).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

-- wrk.format with a headers table of its own would drop the command
-- line's Authorization header: add to wrk.headers instead.
wrk.headers["Content-Type"] = "application/json"

local n = 0
local run, extra
function init(args)
  math.randomseed(os.time() + (tid or 0))
  run = string.format("%x%04x", os.time() % 0x1000000, math.random(0, 0xffff))
  -- Two wrk processes started together (two replicas) seed alike: each
  -- gets its own BENCH_WRK_PART.
  run = run .. (os.getenv("BENCH_WRK_PART") or "")
  extra = os.getenv("BENCH_CREATE_EXTRA") or ""
end

function request()
  n = n + 1
  local body = string.format(
    '{"number":"W%s-%d-%d","amount_cents":4242,"currency":"EUR","paid":false,"notes":"created by wrk"%s}',
    run, tid or 0, n, extra)
  return wrk.format("POST", nil, nil, body)
end
