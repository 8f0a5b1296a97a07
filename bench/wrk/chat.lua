-- wrk script: POST a fixed chat request; tally status codes and bodies; write a JSON summary.
--
-- Environment:
--   BENCH_BODY    path of the request body (JSON), required
--   BENCH_AUTH    bearer token to send (optional)
--   BENCH_EXPECT  a string every good response body contains, e.g. "[DONE]" for a stream (optional)
--   BENCH_OUT     path to write the JSON summary to (default: print it on stdout after wrk's text)
--
-- The JSON: requests, duration_s, rps, bytes, errors {connect, read, write, status, timeout},
-- latency_us {min, mean, stdev, max, p50, p75, p90, p99, p999}, statuses {"200": n, ...}, bad_body.
-- Latency is wrk's own (per request on a kept-alive connection, no coordinated-omission correction).

local function read_file(path)
   local f = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
   local data = f:read("*a")
   f:close()
   return data
end

wrk.method = "POST"
wrk.body = read_file(assert(os.getenv("BENCH_BODY"), "set BENCH_BODY to the request body's path"))
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. auth
end

-- Per-thread state (each wrk thread has its own Lua state; done() collects them through setup()).
statuses = {}
bad_body = 0
sample = nil
local expect = os.getenv("BENCH_EXPECT")
if expect == "" then expect = nil end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   if status ~= 200 or (expect and not string.find(body, expect, 1, true)) then
      bad_body = bad_body + 1
      if sample == nil then
         sample = key .. " " .. string.sub(body, 1, 400)
      end
   end
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local function json_string(s)
   s = string.gsub(s, '[%c"\\]', function(c)
      if c == '"' then return '\\"' end
      if c == "\\" then return "\\\\" end
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. s .. '"'
end

function done(summary, latency, requests)
   local tally, bad, samples = {}, 0, {}
   for _, thread in ipairs(threads) do
      for code, n in pairs(thread:get("statuses") or {}) do
         tally[code] = (tally[code] or 0) + n
      end
      bad = bad + (thread:get("bad_body") or 0)
      local s = thread:get("sample")
      if s then table.insert(samples, json_string(s)) end
   end
   local codes = {}
   for code, n in pairs(tally) do
      table.insert(codes, string.format('"%s": %d', code, n))
   end
   local e = summary.errors
   local seconds = summary.duration / 1e6
   local out = string.format(
      '{"requests": %d, "duration_s": %.6f, "rps": %.3f, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"min": %d, "mean": %.1f, "stdev": %.1f, "max": %d, ' ..
      '"p50": %d, "p75": %d, "p90": %d, "p99": %d, "p999": %d}, ' ..
      '"statuses": {%s}, "bad_body": %d, "bad_samples": [%s]}',
      summary.requests, seconds, summary.requests / seconds, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency.min, latency.mean, latency.stdev, latency.max,
      latency:percentile(50), latency:percentile(75), latency:percentile(90),
      latency:percentile(99), latency:percentile(99.9),
      table.concat(codes, ", "), bad, table.concat(samples, ", "))
   local path = os.getenv("BENCH_OUT")
   if path and path ~= "" then
      local f = assert(io.open(path, "w"))
      f:write(out, "\n")
      f:close()
   else
      io.write(out, "\n")
   end
end
