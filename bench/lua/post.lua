-- POST JSON bodies to a path, one per request, cycling through a file of "key<TAB>body" lines.
-- Arguments after `--`: the bodies file, the path.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local report = require("report")
setup = report.setup

local entries = {}
local next_index = 1
local path = "/"

function init(args)
  path = args[2]
  for line in io.lines(args[1]) do
    local key, body = line:match("^([^\t]+)\t(.*)$")
    if key then
      table.insert(entries, {"Bearer " .. key, body})
    end
  end
  -- Threads start at different places in the list.
  next_index = math.random(#entries)
end

function request()
  local entry = entries[next_index]
  next_index = next_index % #entries + 1
  return wrk.format("POST", path, {
    ["Authorization"] = entry[1],
    ["Content-Type"] = "application/json",
  }, entry[2])
end

function done(summary, latency, requests) report.done(summary, latency) end
