-- update: PATCH the row of the URL on the command line with a changing
-- amount, flag and note (fields every server accepts).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

local n = 0
function request()
  n = n + 1
  local body = string.format(
    '{"amount_cents":%d,"paid":%s,"notes":"updated by wrk %d"}',
    1000 + n % 100000, (n % 2 == 0) and "true" or "false", n)
  return wrk.format("PATCH", nil, { ["Content-Type"] = "application/json" }, body)
end
