-- wrk script of benches/service.mjs (`make bench-service`).
--
--   [BENCH_COUNT=TYPE] wrk -t T -c C -d 5s -s benches/service.lua URL -- DATAFILE T [METHOD]
--
-- DATAFILE: one request a line, `<Authorization value or ->\t<body>`; every request is a POST
-- (or METHOD; a GET sends no body) to URL's path and query. Thread k of T sends lines k, k+T,
-- k+2T, … (no two threads send the same line) and starts over when its share runs out;
-- `wrapped` says that happened (a mutation bench must then be given more lines). With
-- BENCH_COUNT=TYPE, each reply body containing `"type":"TYPE"` is counted (`ok`): the bind
-- events of acceptBindContactPath. `done` prints one line, `BENCH {json}`: requests, duration
-- (µs), p50 and p99 latency (µs), errors (socket, timeout, non-2xx), ok, wrapped, and the
-- requests each thread sent (so the caller knows which lines were used).

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local reqs = {}
local n = 0
local i = 1

function init(args)
  local total_threads = tonumber(args[2])
  local method = args[3] or "POST"
  local all = {}
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    all[#all + 1] = line
  end
  file:close()
  local path = wrk.path
  for k, line in ipairs(all) do
    -- Fewer lines than threads (one hello-world request): every thread sends them all.
    if #all < total_threads or (k - 1) % total_threads == id then
      local auth, body = line:match("^([^\t]*)\t(.*)$")
      local headers = {}
      if auth ~= "-" then
        headers["Authorization"] = auth
      end
      if method == "GET" then
        body = nil
      else
        headers["Content-Type"] = "application/json"
      end
      n = n + 1
      reqs[n] = wrk.format(method, path, headers, body)
    end
  end
  assert(n > 0, "no request lines for thread " .. id)
  ok = 0
  sent = 0
  wrapped = 0
end

-- wrk asks the script for `response` before any thread starts: define it (and pay for reading
-- every reply into Lua) only when counting.
local count = os.getenv("BENCH_COUNT")
if count and count ~= "" then
  local pattern = '"type":"' .. count .. '"'
  function response(status, headers, body)
    if body and body:find(pattern, 1, true) then
      ok = ok + 1
    end
  end
end

function request()
  sent = sent + 1
  local r = reqs[i]
  i = i + 1
  if i > n then
    i = 1
    wrapped = 1
  end
  return r
end

function done(summary, latency, requests)
  local okc, wr, sents = 0, 0, {}
  for k, t in ipairs(threads) do
    okc = okc + (t:get("ok") or 0)
    wr = wr + (t:get("wrapped") or 0)
    sents[k] = tostring(t:get("sent") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration":%d,"p50":%d,"p99":%d,"errors":%d,"ok":%d,"wrapped":%d,"sent":[%s]}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout, okc, wr, table.concat(sents, ",")))
end
