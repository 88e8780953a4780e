-- Reads a request file for the wrk scripts (replay.lua, soak.lua), built once per thread before
-- the run so that request() only hands out prepared bytes.
--
-- FILE  one request per line: METHOD <TAB> PATH <TAB> BODY [<TAB> Header: value]…
--       (bench/lib/presign.py writes these; BODY may be empty)

local M = {}

local function split_tabs(line)
  local out = {}
  local start = 1
  while true do
    local i = string.find(line, "\t", start, true)
    if not i then
      table.insert(out, string.sub(line, start))
      return out
    end
    table.insert(out, string.sub(line, start, i - 1))
    start = i + 1
  end
end

-- The requests of FILE that fall to thread TID of NTHREADS (every NTHREADS-th line), formatted
-- with wrk.format; returns the array and its length. An empty share is an error: a thread with
-- nothing to send would make the run measure less than it says.
function M.load(file, nthreads, tid)
  local reqs, n, i = {}, 0, 0
  for line in io.lines(file) do
    if line ~= "" then
      if i % nthreads == tid then
        local f = split_tabs(line)
        local headers = {}
        for h = 4, #f do
          local name, value = string.match(f[h], "^([^:]+):%s*(.*)$")
          if name then headers[name] = value end
        end
        local body = f[3]
        if body == "" then body = nil end
        n = n + 1
        reqs[n] = wrk.format(f[1], f[2], headers, body)
      end
      i = i + 1
    end
  end
  if n == 0 then error("no requests in " .. file) end
  return reqs, n
end

return M
