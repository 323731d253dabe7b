-- GET <prefix><random id>: wrk ... -s lookup.lua <url> -- <path prefix> <max id>
-- Each wrk thread draws from its own seeded sequence, so every run asks for the same ids.
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

function init(args)
  prefix = args[1]
  max_id = tonumber(args[2])
  math.randomseed(seed * 7919)
end

function request()
  return wrk.format("GET", prefix .. math.random(1, max_id))
end
