-- wrk script of the soak run: replays pre-built requests in a closed loop, round and round, and
-- checks every answer against the protocol's success envelope.
--
--   wrk -t1 -c500 -d600s --timeout 10s -s soak.lua http://127.0.0.1:PORT -- FILE KIND
--
-- FILE  one request per line: METHOD <TAB> PATH <TAB> BODY [<TAB> Header: value]…
--       (bench/lib/presign.py writes these)
-- KIND  v2:  every answer must be HTTP 200 and `{"alipay_trade_query_response":{…}` holding
--            "code":"10000", followed by a non-empty base64 `"sign"` (Alipay's success envelope);
--       top: every answer must be HTTP 200 and open with the `_response` key of one of the TOP
--            methods the soak asks (EDI or xlife query), with no `error_response` anywhere.
--
-- done() prints one machine-readable line, RESULT key=value …, where
--   connect/read/write/timeout  wrk's socket errors (a timed-out request never reaches response())
--   non200                      answers whose HTTP status is not 200
--   body                        200 answers that are not the success envelope
--   ok_edi/ok_xlife             (top) good answers of each method, so both halves are seen to run
-- and SAMPLE <status> <body…> for the first bad answer.

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

-- The request file reader, beside this script.
local requests = dofile((string.match(debug.getinfo(1, "S").source, "^@(.*/)") or "./") .. "requests.lua")

local reqs = {}
local n = 0
local idx = 0
local kind = nil
checked = 0
non200 = 0
body_bad = 0
ok_edi = 0
ok_xlife = 0
sample = ""

function init(args)
  local file = args[1]
  kind = args[2]
  if kind ~= "v2" and kind ~= "top" then
    error("KIND must be v2 or top, not " .. tostring(kind))
  end
  reqs, n = requests.load(file, 1, 0)
end

function request()
  idx = idx + 1
  if idx > n then idx = 1 end
  return reqs[idx]
end

local V2_KEY = '{"alipay_trade_query_response":{'
local EDI_KEY = '{"tmall_luxury_stage_edi_alipay_trade_query_response":'
local XLIFE_KEY = '{"alibaba_xlife_onsite_trade_query_response":'

-- The v2 success envelope: the response object first, its "code" 10000 (the first "code" in it:
-- the object opens with code/msg), then the answer's signature over it.
local function v2_ok(body)
  if string.sub(body, 1, #V2_KEY) ~= V2_KEY then return false end
  local c = string.find(body, '"code":"', #V2_KEY, true)
  if not c or string.sub(body, c, c + 14) ~= '"code":"10000",' then return false end
  return string.find(body, '},"sign":"[A-Za-z0-9+/]+=*"', c) ~= nil
end

local function top_ok(body)
  if string.find(body, '"error_response"', 1, true) then return false end
  if string.sub(body, 1, #EDI_KEY) == EDI_KEY then
    ok_edi = ok_edi + 1
    return true
  end
  if string.sub(body, 1, #XLIFE_KEY) == XLIFE_KEY then
    ok_xlife = ok_xlife + 1
    return true
  end
  return false
end

function response(status, headers, body)
  checked = checked + 1
  body = body or ""
  local good
  if status ~= 200 then
    non200 = non200 + 1
    good = false
  elseif kind == "v2" then
    good = v2_ok(body)
    if not good then body_bad = body_bad + 1 end
  else
    good = top_ok(body)
    if not good then body_bad = body_bad + 1 end
  end
  if not good and sample == "" then
    sample = tostring(status) .. " " .. string.sub(body, 1, 400)
  end
end

function done(summary, latency, requests)
  local c, s2, b, e1, e2, s = 0, 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    c = c + (t:get("checked") or 0)
    s2 = s2 + (t:get("non200") or 0)
    b = b + (t:get("body_bad") or 0)
    e1 = e1 + (t:get("ok_edi") or 0)
    e2 = e2 + (t:get("ok_xlife") or 0)
    if s == "" then s = t:get("sample") or "" end
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.3f rps=%.1f p50_us=%d p99_us=%d max_us=%d " ..
    "connect=%d read=%d write=%d timeout=%d non200=%d body=%d checked=%d ok_edi=%d ok_xlife=%d\n",
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, s2, b, c, e1, e2))
  if s ~= "" then
    io.write("SAMPLE " .. string.gsub(s, "[\r\n]", " ") .. "\n")
  end
end
