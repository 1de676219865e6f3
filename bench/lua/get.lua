-- get_one and list: the URL and the Authorization header come from wrk's
-- command line.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
