-- wrk script: replays pre-built requests from a file.
--
--   wrk -t1 -c32 -d15s -s replay.lua http://127.0.0.1:PORT -- FILE MODE RATE CHECK
--
-- FILE   one request per line: METHOD <TAB> PATH <TAB> BODY [<TAB> Header: value]…
--        (bench/lib/presign.py writes these; BODY may be empty)
-- MODE   cycle: go round the file again and again (v2, TOP, nginx);
--        once:  use every request at most once (v3 nonces are single-use); running out is
--               reported as exhausted=1 and the thread stops.
-- RATE   0: closed loop (each connection sends its next request when the answer arrives);
--        R > 0: paced, R requests/s per thread on a fixed schedule of slots (1/R apart) that the
--        connections take in turn. Latency is measured by wrk from the moment a request is
--        written, so it is the server's latency at that offered load (no client-side queueing
--        is counted: give enough connections that a free one is always there at each slot).
-- CHECK  a byte string every answer body must contain (status must be 200), or "-" to skip
--        reading bodies. Failures are counted as bad=N and the first one is printed as SAMPLE.
--
-- done() prints one machine-readable line: RESULT key=value …

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } replay_timespec;
  int clock_gettime(int clk_id, replay_timespec *tp);
]]
local ts = ffi.new("replay_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

-- The request file reader, beside this script.
local requests = dofile((string.match(debug.getinfo(1, "S").source, "^@(.*/)") or "./") .. "requests.lua")

-- setup phase (main interpreter): remember the threads to collect their counters in done().
local threads = {}
local thread_count = 0
function setup(thread)
  thread:set("tid", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

-- running phase (one interpreter per thread)
local reqs = {}
local n = 0
local idx = 0
local once = false
local interval = 0
local next_slot = nil
local needle = nil
bad = 0
checked = 0
exhausted = 0
sample = ""

function init(args)
  local file, mode, rate, check = args[1], args[2] or "cycle", tonumber(args[3] or "0"), args[4] or "-"
  local nthreads = tonumber(args[5] or "1")
  once = (mode == "once")
  if rate > 0 then interval = 1000 / rate end
  if check ~= "-" then needle = check end
  reqs, n = requests.load(file, nthreads, tid or 0)
  -- Threads start at different places so that they do not ask the same things in step.
  idx = 0
  if needle == nil then response = nil end
  if interval == 0 then delay = nil end
end

function delay()
  local t = now_ms()
  if next_slot == nil then next_slot = t end
  next_slot = next_slot + interval
  local d = next_slot - t
  if d < 0 then
    -- Behind schedule (the server is slower than the offered rate): do not build up a burst.
    if d < -100 then next_slot = t end
    return 0
  end
  return d
end

function request()
  idx = idx + 1
  if idx > n then
    if once then
      exhausted = 1
      wrk.thread:stop()
      idx = n
    else
      idx = 1
    end
  end
  return reqs[idx]
end

function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 or not string.find(body, needle, 1, true) then
    bad = bad + 1
    if sample == "" then
      sample = tostring(status) .. " " .. string.sub(body or "", 1, 400)
    end
  end
end

function done(summary, latency, requests)
  local b, c, x, s = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    b = b + (t:get("bad") or 0)
    c = c + (t:get("checked") or 0)
    if (t:get("exhausted") or 0) > 0 then x = 1 end
    if s == "" then s = t:get("sample") or "" end
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f rps=%.1f mean_us=%.1f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d " ..
    "bytes=%d connect=%d read=%d write=%d status=%d timeout=%d checked=%d bad=%d exhausted=%d\n",
    summary.requests, secs, summary.requests / secs, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max,
    summary.bytes, e.connect, e.read, e.write, e.status, e.timeout, c, b, x))
  if s ~= "" then
    io.write("SAMPLE " .. string.gsub(s, "\n", " ") .. "\n")
  end
end
