-- POST /v1/dispatch with varied bodies; each hold it gets is released (DELETE /v1/holds/{id})
-- by a later request of the same thread, so the free slots do not run out.
-- Arguments after `--`: the bodies file ("key<TAB>body" lines), the site keys file
-- ("site id<TAB>key" lines). A hold is released by the regulator that made it: answers come back
-- in any order across connections, so that regulator is found from the held candidate's site
-- (each bench regulator works in the territories of one département).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local report = require("report")
setup = report.setup

local entries = {}
local next_index = 1
local pending = {}
local site_keys = {}
dispatched = 0
no_free_slot = 0
released = 0
failed = 0

function init(args)
  for line in io.lines(args[1]) do
    local key, body = line:match("^([^\t]+)\t(.*)$")
    if key then
      table.insert(entries, {"Bearer " .. key, body})
    end
  end
  for line in io.lines(args[2]) do
    local site, key = line:match("^([^\t]+)\t(.*)$")
    if site then
      site_keys[site] = "Bearer " .. key
    end
  end
  next_index = math.random(#entries)
end

function request()
  local held = table.remove(pending)
  if held then
    return wrk.format("DELETE", "/v1/holds/" .. held[1], {["Authorization"] = held[2]})
  end
  local entry = entries[next_index]
  next_index = next_index % #entries + 1
  return wrk.format("POST", "/v1/dispatch", {
    ["Authorization"] = entry[1],
    ["Content-Type"] = "application/json",
  }, entry[2])
end

function response(status, headers, body)
  if status == 201 then
    dispatched = dispatched + 1
    local id = body:match('"hold"%s*:%s*{[^}]-"id"%s*:%s*"([^"]+)"')
    local site = body:match('"candidate"%s*:%s*{.-"site"%s*:%s*{[^}]-"id"%s*:%s*"([^"]+)"')
    if id and site and site_keys[site] then
      table.insert(pending, {id, site_keys[site]})
    end
  elseif status == 404 and body:find("no%-free%-slot") then
    no_free_slot = no_free_slot + 1
  elseif status >= 200 and status < 300 then
    released = released + 1
  else
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  report.done(summary, latency, {"dispatched", "no_free_slot", "released", "failed"})
end
