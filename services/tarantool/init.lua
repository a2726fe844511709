-- MiniToolStream's Tarantool application: configuration, schema migrations,
-- the connector user and one stored procedure per atomic store operation.
--
-- Environment:
--   TARANTOOL_LISTEN        port or host:port to listen on (default 3301)
--   TARANTOOL_WORK_DIR      folder for snapshots and WAL (default: current folder)
--   TARANTOOL_MEMTX_MEMORY  memtx arena in bytes (default 256 MiB)
--   TARANTOOL_USER          connector user (default minitoolstream_connector)
--   TARANTOOL_PASSWORD      its password; required, since an empty password would
--                           leave the connector unauthenticated (guest has no grants)
--
-- Calling conventions (the driver's limits decide them):
--   * sequences cross the wire as decimal strings, both ways, so uint64 stays exact;
--   * inline payloads cross as base64 and are stored as raw bytes;
--   * expected failures return {ok = false, code = ...}; only bugs raise.

local fiber = require('fiber')
local digest = require('digest')
local log = require('log')

local function env(name, default)
    local value = os.getenv(name)
    if value == nil or value == '' then
        return default
    end
    return value
end

local listen = env('TARANTOOL_LISTEN', '3301')
local password = env('TARANTOOL_PASSWORD', nil)
if password == nil then
    error('TARANTOOL_PASSWORD must be set: the connector user cannot log in without one')
end
local user = env('TARANTOOL_USER', 'minitoolstream_connector')

box.cfg({
    listen = tonumber(listen) or listen,
    work_dir = env('TARANTOOL_WORK_DIR', nil),
    memtx_memory = tonumber(env('TARANTOOL_MEMTX_MEMORY', tostring(256 * 1024 * 1024))),
    wal_mode = 'write',
    log_level = 5,
    -- Every subject an egress replica follows keeps one mts_wait_for_commit
    -- request open (a fiber of about 10 KB). At the default of 768 that many
    -- open requests stop Tarantool reading any request at all, publishes
    -- included; this is the ceiling of watched subjects summed over replicas.
    net_msg_max = tonumber(env('TARANTOOL_NET_MSG_MAX', '16384')),
})

-- Each migration runs once, in order; `_mts_schema` remembers the last one done.
-- They use if_not_exists so a crash between a migration and its version bump is harmless.
local migrations = {
    function()
        local subjects = box.schema.space.create('mts_subjects', {
            if_not_exists = true,
            format = {
                { name = 'subject', type = 'string' },
                -- Highest sequence ever assigned; never decreases, even when rows are deleted.
                { name = 'last_sequence', type = 'unsigned' },
                { name = 'message_count', type = 'unsigned' },
                { name = 'bytes', type = 'unsigned' },
            },
        })
        subjects:create_index('primary', { parts = { 'subject' }, if_not_exists = true })

        local messages = box.schema.space.create('mts_messages', {
            if_not_exists = true,
            format = {
                { name = 'subject', type = 'string' },
                { name = 'sequence', type = 'unsigned' },
                { name = 'timestamp_ms', type = 'unsigned' },
                { name = 'headers', type = 'map' },
                { name = 'size', type = 'unsigned' },
                -- Raw payload bytes when inline, null when the payload is an object.
                { name = 'data', type = 'string', is_nullable = true },
                { name = 'object_key', type = 'string' },
            },
        })
        messages:create_index('primary', { parts = { 'subject', 'sequence' }, if_not_exists = true })

        local consumers = box.schema.space.create('mts_consumers', {
            if_not_exists = true,
            format = {
                { name = 'durable', type = 'string' },
                { name = 'subject', type = 'string' },
                { name = 'ack_floor', type = 'unsigned' },
            },
        })
        consumers:create_index('primary', { parts = { 'durable', 'subject' }, if_not_exists = true })

        local pending = box.schema.space.create('mts_pending_uploads', {
            if_not_exists = true,
            format = {
                { name = 'object_key', type = 'string' },
                { name = 'created_ms', type = 'unsigned' },
            },
        })
        pending:create_index('primary', { parts = { 'object_key' }, if_not_exists = true })
        pending:create_index('created_ms', { parts = { 'created_ms' }, unique = false, if_not_exists = true })
    end,
    function()
        -- The client that first used a durable consumer; it never changes.
        local owners = box.schema.space.create('mts_consumer_owners', {
            if_not_exists = true,
            format = {
                { name = 'durable', type = 'string' },
                { name = 'subject', type = 'string' },
                { name = 'owner', type = 'string' },
            },
        })
        owners:create_index('primary', { parts = { 'durable', 'subject' }, if_not_exists = true })
    end,
}

local function migrate()
    local schema = box.schema.space.create('_mts_schema', {
        if_not_exists = true,
        format = { { name = 'key', type = 'string' }, { name = 'version', type = 'unsigned' } },
    })
    schema:create_index('primary', { parts = { 'key' }, if_not_exists = true })
    local row = schema:get('version')
    local done = row and row.version or 0
    for version = done + 1, #migrations do
        log.info('mts: applying schema migration %d', version)
        migrations[version]()
        schema:replace({ 'version', version })
    end
end

local function u64(value, what)
    local n = tonumber64(value)
    if n == nil or n < 0 then
        error(string.format('%s must be an unsigned integer, got %s', what, tostring(value)))
    end
    return n
end

-- Decimal text of an integer without LuaJIT's ULL/LL suffix.
local function decimal(n)
    return (tostring(n):gsub('U?LL$', ''))
end

local function b64(bytes)
    return digest.base64_encode(bytes, { nowrap = true })
end

local function last_sequence(subject)
    local row = box.space.mts_subjects:get(subject)
    return row and row.last_sequence or 0
end

-- `sequence` as a number when the subject has reached it; else nil and the
-- ACK_BEYOND_END outcome to return.
local function reached(subject, sequence)
    local wanted = u64(sequence, 'sequence')
    local last = last_sequence(subject)
    if wanted > last then
        return nil, { ok = false, code = 'ACK_BEYOND_END', last = decimal(last) }
    end
    return wanted, nil
end

-- Runs fn in one transaction. Not box.atomic: nesting it inside a caller's
-- transaction fails on 2.6, and we want the rollback on error spelled out.
local function transaction(fn)
    box.begin()
    local ok, err = pcall(fn)
    if not ok then
        box.rollback()
        error(err)
    end
    box.commit()
end

-- Fibers blocked in mts_wait_for_commit, per subject; commit broadcasts.
local watchers = {}

--- Liveness probe for health checks.
function mts_ping()
    return { ok = true }
end

--- Commits a batch of records in one transaction. Each record:
--- {subject, timestamp_ms, headers, size, data (base64 or nil), object_key}.
--- Returns {ok = true, sequences = {decimal...}} in input order, or
--- {ok = false, code = 'UPLOAD_EXPIRED', object_key = k} when an object key has
--- no pending-upload row (then nothing is committed).
function mts_commit(batch)
    -- Check every key before writing: memtx does not yield until box.commit,
    -- so nothing can sweep a pending row between this check and the deletes.
    local seen = {}
    for _, record in ipairs(batch) do
        local key = record.object_key or ''
        if key ~= '' then
            if seen[key] or box.space.mts_pending_uploads:get(key) == nil then
                return { ok = false, code = 'UPLOAD_EXPIRED', object_key = key }
            end
            seen[key] = true
        end
    end

    local sequences = {}
    local touched = {}
    transaction(function()
        for i, record in ipairs(batch) do
            local subject = record.subject
            local key = record.object_key or ''
            local data = nil
            if record.data ~= nil and record.data ~= box.NULL then
                data = digest.base64_decode(record.data)
            end
            local size = u64(record.size, 'size')
            local row = box.space.mts_subjects:get(subject)
            local sequence = (row and row.last_sequence or 0) + 1
            box.space.mts_subjects:replace({
                subject,
                sequence,
                (row and row.message_count or 0) + 1,
                (row and row.bytes or 0) + size,
            })
            box.space.mts_messages:insert({
                subject, sequence, u64(record.timestamp_ms, 'timestamp_ms'),
                setmetatable(record.headers or {}, { __serialize = 'map' }),
                size, data, key,
            })
            if key ~= '' then
                box.space.mts_pending_uploads:delete(key)
            end
            sequences[i] = decimal(sequence)
            touched[subject] = true
        end
    end)
    for subject in pairs(touched) do
        local watcher = watchers[subject]
        if watcher ~= nil then
            watcher.cond:broadcast()
        end
    end
    return { ok = true, sequences = sequences }
end

--- Up to `limit` messages of `subject` with sequence > `after`, ascending.
--- Each: {sequence, timestamp_ms, headers, size, data (base64 or null), object_key}.
function mts_read_after(subject, after, limit)
    local rows = {}
    local count = tonumber(limit)
    for _, t in box.space.mts_messages:pairs({ subject, u64(after, 'after') }, { iterator = 'GT' }) do
        if #rows >= count or t.subject ~= subject then
            break
        end
        rows[#rows + 1] = {
            sequence = decimal(t.sequence),
            timestamp_ms = t.timestamp_ms,
            headers = t.headers,
            size = t.size,
            data = t.data ~= nil and b64(t.data) or box.NULL,
            object_key = t.object_key,
        }
    end
    return { ok = true, rows = rows }
end

--- Highest committed sequence of `subject` ('0' if none).
function mts_last_sequence(subject)
    return { ok = true, last = decimal(last_sequence(subject)) }
end

--- The ack floor of (durable, subject), '0' for a new consumer.
function mts_ack_floor(durable, subject)
    local row = box.space.mts_consumers:get({ durable, subject })
    return { ok = true, floor = decimal(row and row.ack_floor or 0) }
end

--- Moves the floor up to `sequence`; an older ack is a no-op. Returns the floor,
--- or {ok = false, code = 'ACK_BEYOND_END', last} past the last sequence.
function mts_ack(durable, subject, sequence)
    local wanted, beyond = reached(subject, sequence)
    if beyond then
        return beyond
    end
    local row = box.space.mts_consumers:get({ durable, subject })
    local floor = row and row.ack_floor or 0
    if wanted > floor then
        box.space.mts_consumers:replace({ durable, subject, wanted })
        floor = wanted
    end
    return { ok = true, floor = decimal(floor) }
end

--- Records `owner` for (durable, subject) if it has none and returns
--- {ok = true, owned} with whether the recorded owner is `owner`. insert-or-get
--- runs without yielding, so two first claims cannot both win.
function mts_claim_consumer(durable, subject, owner)
    local row = box.space.mts_consumer_owners:get({ durable, subject })
    if row == nil then
        row = box.space.mts_consumer_owners:insert({ durable, subject, owner })
    end
    return { ok = true, owned = row.owner == owner }
end

--- Blocks until the subject's last sequence exceeds `after` or `timeout_s`
--- passes, then returns the last sequence. Woken by mts_commit, never polls.
function mts_wait_for_commit(subject, after, timeout_s)
    local floor = u64(after, 'after')
    local deadline = fiber.clock() + math.min(tonumber(timeout_s) or 0, 3600)
    while true do
        local last = last_sequence(subject)
        local remaining = deadline - fiber.clock()
        if last > floor or remaining <= 0 then
            return { ok = true, last = decimal(last) }
        end
        local watcher = watchers[subject]
        if watcher == nil then
            watcher = { cond = fiber.cond(), count = 0 }
            watchers[subject] = watcher
        end
        watcher.count = watcher.count + 1
        watcher.cond:wait(remaining)
        watcher.count = watcher.count - 1
        if watcher.count == 0 and watchers[subject] == watcher then
            watchers[subject] = nil
        end
    end
end

--- Records an object key about to be uploaded.
function mts_add_pending_upload(object_key, created_ms)
    box.space.mts_pending_uploads:replace({ object_key, u64(created_ms, 'created_ms') })
    return { ok = true }
end

--- Up to `limit` pending keys created before `older_than_ms`, oldest first.
function mts_list_stale_pending_uploads(older_than_ms, limit)
    local keys = {}
    local count = tonumber(limit)
    local index = box.space.mts_pending_uploads.index.created_ms
    for _, t in index:pairs({ u64(older_than_ms, 'older_than_ms') }, { iterator = 'LT' }) do
        if #keys >= count then
            break
        end
        keys[#keys + 1] = t.object_key
    end
    -- LT walks newest first; callers sweep oldest first.
    local ordered = {}
    for i = #keys, 1, -1 do
        ordered[#ordered + 1] = keys[i]
    end
    return { ok = true, keys = ordered }
end

--- Forgets a pending key; a missing key is not an error.
function mts_remove_pending_upload(object_key)
    box.space.mts_pending_uploads:delete(object_key)
    return { ok = true }
end

--- Retention: deletes messages of `subject` with sequence <= `sequence`, at most
--- `limit` (default 1000) per call so a transaction stays short. Returns the
--- object keys of deleted messages (to remove from the object store) and
--- `more = true` when rows remain. The subject's counter is kept.
function mts_delete_through(subject, sequence, limit)
    local through = u64(sequence, 'sequence')
    local max = tonumber(limit) or 1000
    local victims = {}
    for _, t in box.space.mts_messages:pairs({ subject }, { iterator = 'GE' }) do
        if t.subject ~= subject or t.sequence > through or #victims > max then
            break
        end
        victims[#victims + 1] = t
    end
    local more = #victims > max
    if more then
        victims[#victims] = nil
    end
    local keys = {}
    local bytes = 0
    transaction(function()
        for _, t in ipairs(victims) do
            box.space.mts_messages:delete({ t.subject, t.sequence })
            bytes = bytes + t.size
            if t.object_key ~= '' then
                keys[#keys + 1] = t.object_key
            end
        end
        if #victims > 0 then
            box.space.mts_subjects:update(subject, { { '-', 'message_count', #victims }, { '-', 'bytes', bytes } })
        end
    end)
    return { ok = true, deleted = #victims, object_keys = keys, more = more }
end

-- A subject's counters as the inspection procedures return them. The first
-- sequence and the last commit time are index lookups, never a scan.
local function subject_stats(row)
    local first = box.space.mts_messages:select({ row.subject }, { iterator = 'GE', limit = 1 })[1]
    local last = box.space.mts_messages:get({ row.subject, row.last_sequence })
    return {
        subject = row.subject,
        messages = decimal(row.message_count),
        bytes = decimal(row.bytes),
        first_sequence = decimal((first ~= nil and first.subject == row.subject) and first.sequence or 0),
        last_sequence = decimal(row.last_sequence),
        last_publish_ms = last ~= nil and decimal(last.timestamp_ms) or box.NULL,
    }
end

local function consumer_position(row)
    return {
        durable = row.durable,
        subject = row.subject,
        ack_floor = decimal(row.ack_floor),
        last_sequence = decimal(last_sequence(row.subject)),
    }
end

--- Every subject, ordered by name: {ok = true, subjects = {stats...}}.
function mts_list_subjects()
    local subjects = {}
    for _, row in box.space.mts_subjects:pairs() do
        subjects[#subjects + 1] = subject_stats(row)
    end
    return { ok = true, subjects = subjects }
end

--- One subject's stats, or {ok = true} without `subject` when it has none.
function mts_subject_info(subject)
    local row = box.space.mts_subjects:get(subject)
    return { ok = true, subject = row ~= nil and subject_stats(row) or box.NULL }
end

--- Every consumer (of `subject` when given), ordered by durable then subject.
function mts_list_consumers(subject)
    local consumers = {}
    for _, row in box.space.mts_consumers:pairs() do
        if subject == nil or subject == box.NULL or row.subject == subject then
            consumers[#consumers + 1] = consumer_position(row)
        end
    end
    return { ok = true, consumers = consumers }
end

--- One consumer's position, or {ok = true} without `consumer` when it never acked.
function mts_consumer_info(durable, subject)
    local row = box.space.mts_consumers:get({ durable, subject })
    return { ok = true, consumer = row ~= nil and consumer_position(row) or box.NULL }
end

--- Sets the ack floor to `sequence`, down as well as up, creating the consumer;
--- {ok = false, code = 'ACK_BEYOND_END', last} past the last sequence.
function mts_reset_consumer(durable, subject, sequence)
    local wanted, beyond = reached(subject, sequence)
    if beyond then
        return beyond
    end
    local row = box.space.mts_consumers:replace({ durable, subject, wanted })
    return { ok = true, consumer = consumer_position(row) }
end

local procedures = {
    'mts_ping', 'mts_commit', 'mts_read_after', 'mts_last_sequence', 'mts_ack_floor', 'mts_ack',
    'mts_claim_consumer', 'mts_wait_for_commit', 'mts_add_pending_upload', 'mts_list_stale_pending_uploads',
    'mts_remove_pending_upload', 'mts_delete_through', 'mts_list_subjects', 'mts_subject_info', 'mts_list_consumers',
    'mts_consumer_info', 'mts_reset_consumer',
}

-- The connector may execute our procedures and nothing else; setuid lets a
-- procedure touch the spaces with its owner's rights.
local function grant()
    box.schema.user.create(user, { password = password, if_not_exists = true })
    box.schema.user.passwd(user, password)
    for _, name in ipairs(procedures) do
        box.schema.func.create(name, { setuid = true, if_not_exists = true })
        box.schema.user.grant(user, 'execute', 'function', name, { if_not_exists = true })
    end
end

if not box.info.ro then
    migrate()
    grant()
end
log.info('mts: ready, listening on %s', tostring(box.cfg.listen))

return { migrate = migrate, grant = grant, procedures = procedures }
