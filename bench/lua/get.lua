-- GET the URL's path (the hello baseline).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local report = require("report")
setup = report.setup
function done(summary, latency, requests) report.done(summary, latency) end
