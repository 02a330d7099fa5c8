-- bench/wrk_headers.lua — wrk script that reads request headers from the file
-- named by $OMNI_WRK_HEADERS ("Name: value" per line), so keys never appear in
-- argv. Used by bench/sim_load.sh.
local path = os.getenv("OMNI_WRK_HEADERS")
if not path then
    error("OMNI_WRK_HEADERS is not set")
end
local f = assert(io.open(path, "r"))
for line in f:lines() do
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
        wrk.headers[name] = value
    end
end
f:close()

