-- MiniToolStream's Tarantool application: configuration, schema migrations,
-- the connector user and one stored procedure per atomic store operation.
--
-- Environment:
--   TARANTOOL_LISTEN        port or host:port to listen on (default 3301)
--   TARANTOOL_WORK_DIR      folder for snapshots and WAL (default: current folder)
--   TARANTOOL_MEMTX_MEMORY  memtx arena in bytes (default 256 MiB)
--   TARANTOOL_WAL_MODE      `fsync` (default): a commit is acknowledged once its WAL
--                           record is on disk, so it survives an OS crash or power loss;
--                           `write`: once it is handed to the OS, so only a Tarantool
--                           crash is survived and an OS crash can lose acknowledged writes
--   TARANTOOL_MEMTX_REFUSE_PERCENT  commits are refused (STORE_FULL) once memtx
--                           is this full (default 90), so deletes, acks and reads
--                           keep working and retention can free space
--   TARANTOOL_EXPIRY_INTERVAL_S  seconds between passes of the expiry worker
--                           (default 1); a policy change starts one at once
--   TARANTOOL_USER          connector user (default minitoolstream_connector)
--   TARANTOOL_PASSWORD      its password; required, since an empty password would
--                           leave the connector unauthenticated (guest has no grants)
--
-- Calling conventions (the driver's limits decide them):
--   * sequences cross the wire as decimal strings, both ways, so uint64 stays exact;
--   * inline payloads are stored as raw bytes; they arrive as MessagePack bin
--     (mts_commit's positional records) and leave as base64 (the driver decodes
--     every string it reads as UTF-8);
--   * expected failures return {ok = false, code = ...}; only bugs raise.

local fiber = require('fiber')
local digest = require('digest')
local json = require('json')
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
local wal_mode = env('TARANTOOL_WAL_MODE', 'fsync')
local refuse_percent = tonumber(env('TARANTOOL_MEMTX_REFUSE_PERCENT', '90'))
if refuse_percent == nil or refuse_percent <= 0 or refuse_percent > 100 then
    error('TARANTOOL_MEMTX_REFUSE_PERCENT must be a number above 0 and at most 100')
end
local expiry_interval_s = tonumber(env('TARANTOOL_EXPIRY_INTERVAL_S', '1'))
if expiry_interval_s == nil or expiry_interval_s <= 0 then
    error('TARANTOOL_EXPIRY_INTERVAL_S must be a number of seconds above 0')
end
if wal_mode ~= 'fsync' and wal_mode ~= 'write' then
    error(string.format("TARANTOOL_WAL_MODE must be 'fsync' or 'write', not %q", wal_mode))
end

box.cfg({
    listen = tonumber(listen) or listen,
    work_dir = env('TARANTOOL_WORK_DIR', nil),
    memtx_memory = tonumber(env('TARANTOOL_MEMTX_MEMORY', tostring(256 * 1024 * 1024))),
    wal_mode = wal_mode,
    log_level = 5,
    -- Egress replicas hold one mts_wait_for_changes request open each; the
    -- headroom is for egress replicas of the previous release, which hold one
    -- mts_wait_for_commit per watched subject during a rolling update.
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
    function()
        -- The duplicate window: a msg-id committed on a subject, until it expires.
        local ids = box.schema.space.create('mts_msg_ids', {
            if_not_exists = true,
            format = {
                { name = 'subject', type = 'string' },
                { name = 'msg_id', type = 'string' },
                { name = 'sequence', type = 'unsigned' },
                { name = 'expires_ms', type = 'unsigned' },
            },
        })
        ids:create_index('primary', { parts = { 'subject', 'msg_id' }, if_not_exists = true })
        ids:create_index('expires_ms', { parts = { 'expires_ms' }, unique = false, if_not_exists = true })
    end,
    function()
        -- Retention limits per subject pattern; 0 means unlimited. The services
        -- write the default from their environment under the pattern '>'.
        local policies = box.schema.space.create('mts_retention_policies', {
            if_not_exists = true,
            format = {
                { name = 'pattern', type = 'string' },
                { name = 'max_age_ms', type = 'unsigned' },
                { name = 'max_messages', type = 'unsigned' },
                { name = 'max_bytes', type = 'unsigned' },
            },
        })
        policies:create_index('primary', { parts = { 'pattern' }, if_not_exists = true })

        -- Objects of deleted messages, queued in the transaction that deleted
        -- their metadata; the services remove the object, then the entry.
        local deleted = box.schema.space.create('mts_deleted_objects', {
            if_not_exists = true,
            format = { { name = 'object_key', type = 'string' } },
        })
        deleted:create_index('primary', { parts = { 'object_key' }, if_not_exists = true })
    end,
    function()
        -- Per-pattern limits: the largest message, and whether a full subject
        -- refuses publishes ('new') or drops its oldest messages ('old', also null).
        local policies = box.space.mts_retention_policies
        local format = policies:format()
        if #format == 4 then
            format[5] = { name = 'max_message_bytes', type = 'unsigned', is_nullable = true }
            format[6] = { name = 'discard', type = 'string', is_nullable = true }
            policies:format(format)
        end
    end,
    function()
        -- Store-wide counters kept with the data: messages expired and purged.
        local counters = box.schema.space.create('mts_counters', {
            if_not_exists = true,
            format = { { name = 'name', type = 'string' }, { name = 'value', type = 'unsigned' } },
        })
        counters:create_index('primary', { parts = { 'name' }, if_not_exists = true })
    end,
    function()
        -- Interest retention: 'interest' deletes what every durable consumer
        -- of the subject acknowledged ('limits', also null, does not); the
        -- index finds a subject's consumers.
        local policies = box.space.mts_retention_policies
        local format = policies:format()
        if #format == 6 then
            format[7] = { name = 'retention', type = 'string', is_nullable = true }
            policies:format(format)
        end
        box.space.mts_consumers:create_index('subject', { parts = { 'subject' }, unique = false, if_not_exists = true })
    end,
    function()
        -- Configured consumers (services/store/consumers.ts): the configuration
        -- as the JSON text encodeConsumerConfig writes, with counters kept with
        -- it; a position per subject (the index finds a subject's positions for
        -- interest retention); and the leases of delivered messages not yet
        -- settled, with an index in redelivery order. Durables never configured
        -- stay in mts_consumers.
        local configs = box.schema.space.create('mts_consumer_configs', {
            if_not_exists = true,
            format = {
                { name = 'durable', type = 'string' },
                { name = 'config', type = 'string' },
                { name = 'created_ms', type = 'unsigned' },
                { name = 'delivered_total', type = 'unsigned' },
                { name = 'dead_lettered_total', type = 'unsigned' },
            },
        })
        configs:create_index('primary', { parts = { 'durable' }, if_not_exists = true })

        local positions = box.schema.space.create('mts_consumer_positions', {
            if_not_exists = true,
            format = {
                { name = 'durable', type = 'string' },
                { name = 'subject', type = 'string' },
                -- Every sequence up to it is settled.
                { name = 'ack_floor', type = 'unsigned' },
                -- Highest sequence delivered.
                { name = 'delivered', type = 'unsigned' },
            },
        })
        positions:create_index('primary', { parts = { 'durable', 'subject' }, if_not_exists = true })
        positions:create_index('subject', { parts = { 'subject' }, unique = false, if_not_exists = true })

        local leases = box.schema.space.create('mts_leases', {
            if_not_exists = true,
            format = {
                { name = 'durable', type = 'string' },
                { name = 'subject', type = 'string' },
                { name = 'sequence', type = 'unsigned' },
                { name = 'deliveries', type = 'unsigned' },
                { name = 'lease_until_ms', type = 'unsigned' },
            },
        })
        leases:create_index('primary', { parts = { 'durable', 'subject', 'sequence' }, if_not_exists = true })
        leases:create_index('expiry', { parts = { 'durable', 'lease_until_ms' }, unique = false, if_not_exists = true })
    end,
    function()
        -- Objects named by more than one message (a dead letter shares its
        -- original's, a redriven message its dead letter's) and by how many; a
        -- deleted message's object is queued only when no other message names
        -- it. Publishes never share an object, so they never touch this space.
        local shared = box.schema.space.create('mts_shared_objects', {
            if_not_exists = true,
            format = { { name = 'object_key', type = 'string' }, { name = 'refs', type = 'unsigned' } },
        })
        shared:create_index('primary', { parts = { 'object_key' }, if_not_exists = true })
    end,
    function()
        -- Objects stored, a counter kept with the data like expired and
        -- purged: the distinct object keys the stored messages name.
        local seen, count = {}, 0
        for _, t in box.space.mts_messages:pairs() do
            if t.object_key ~= '' and not seen[t.object_key] then
                seen[t.object_key] = true
                count = count + 1
            end
        end
        box.space.mts_counters:replace({ 'objects', count })
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

-- Retention policies apply to the subjects their pattern matches, NATS
-- style (`*` one token, a final `>` one or more); the most specific wins,
-- ranked by literal tokens, then by tokens other than `>`
-- (services/store/subject-pattern.ts is the same rule; ties are refused
-- when a policy is created). Resolutions are cached until a policy changes.
local function split_tokens(text)
    local tokens = {}
    for token in string.gmatch(text, '[^.]+') do
        tokens[#tokens + 1] = token
    end
    return tokens
end

local function pattern_matches(pattern, subject)
    local wanted, given = split_tokens(pattern), split_tokens(subject)
    for i, token in ipairs(wanted) do
        if token == '>' then
            return #given >= i
        end
        if given[i] == nil or (token ~= '*' and token ~= given[i]) then
            return false
        end
    end
    return #wanted == #given
end

local function specificity(pattern)
    local literals, fixed = 0, 0
    for _, token in ipairs(split_tokens(pattern)) do
        if token ~= '>' then
            fixed = fixed + 1
            if token ~= '*' then
                literals = literals + 1
            end
        end
    end
    return literals * 65536 + fixed
end

local policy_cache = {}

-- The policy in force for `subject` as a plain table, or false for none.
local function policy_for(subject)
    local cached = policy_cache[subject]
    if cached ~= nil then
        return cached
    end
    local best, best_rank = false, -1
    for _, row in box.space.mts_retention_policies:pairs() do
        local rank = specificity(row.pattern)
        if rank > best_rank and pattern_matches(row.pattern, subject) then
            best, best_rank = row, rank
        end
    end
    if best then
        best = {
            pattern = best.pattern, max_age_ms = best.max_age_ms, max_messages = best.max_messages, max_bytes = best.max_bytes,
            max_message_bytes = best.max_message_bytes or 0, discard = best.discard or 'old',
            retention = best.retention or 'limits',
        }
    end
    policy_cache[subject] = best
    return best
end

-- The limit a row of `size` bytes would break on a subject holding `count`
-- messages of `bytes`, or nil: the largest message always, the subject's
-- totals only when the policy refuses new messages instead of dropping old ones.
local function broken_limit(policy, count, bytes, size)
    if not policy then
        return nil
    end
    if policy.max_message_bytes > 0 and size > policy.max_message_bytes then
        return 'max_message_bytes', policy.max_message_bytes
    end
    if policy.discard == 'new' then
        if policy.max_messages > 0 and count + 1 > policy.max_messages then
            return 'max_messages', policy.max_messages
        end
        if policy.max_bytes > 0 and bytes + size > policy.max_bytes then
            return 'max_bytes', policy.max_bytes
        end
    end
    return nil
end

-- Percent of the memtx quota in use by tuples and indexes.
local function memtx_used_percent()
    local slab = box.slab.info()
    return slab.arena_used * 100 / slab.quota_size
end

-- mts_commit's refusal when memtx is `used` percent full; `problem` names an allocation that failed.
local function store_full(used, problem)
    return { ok = false, code = 'STORE_FULL', used_percent = math.floor(used), refuse_percent = refuse_percent, problem = problem }
end

-- Fibers blocked in mts_wait_for_commit, per subject; commit broadcasts.
local watchers = {}

-- The change feed: every commit and every ack that moves a floor appends
-- what changed under the next version; mts_wait_for_changes answers from it,
-- so one waiting call per egress process covers every subject it watches.
-- It lives in memory: `epoch` names this process's feed, and a caller whose
-- cursor is of another epoch or older than the ring re-reads instead.
local feed_capacity = 16384
local feed = {
    epoch = decimal(fiber.time64()),
    version = 0,
    ring = {},
    cond = fiber.cond(),
}

local function feed_cursor()
    return feed.epoch .. ':' .. feed.version
end

local function feed_append(change)
    feed.version = feed.version + 1
    feed.ring[feed.version % feed_capacity] = change
end

--- Liveness probe for health checks.
function mts_ping()
    return { ok = true }
end

-- A record as older ingresses send it, a map with base64 data, in the
-- positional form commit_rows takes: {subject, timestamp_ms, headers, size, data, object_key}.
local function row_of_map(record)
    local data = nil
    if record.data ~= nil and record.data ~= box.NULL then
        data = digest.base64_decode(record.data)
    end
    return { record.subject, u64(record.timestamp_ms, 'timestamp_ms'), record.headers or {}, u64(record.size, 'size'), data, record.object_key or '' }
end

local default_duplicate_window_ms = 2 * 60 * 1000
-- Expired msg-id entries one commit removes at least (more when it remembers many).
local expiry_batch_min = 64

local function now_ms()
    return tonumber64(math.floor(fiber.time() * 1000))
end

-- Up to `limit` msg-id entries expired at `now`, oldest first; collected
-- before deleting so the walk never sees its own deletions.
local function expired_msg_ids(now, limit)
    local victims = {}
    for _, t in box.space.mts_msg_ids.index.expires_ms:pairs({}, { iterator = 'GE' }) do
        if t.expires_ms > now or #victims >= limit then
            break
        end
        victims[#victims + 1] = { t.subject, t.msg_id }
    end
    return victims
end

-- Decides every row before anything is written (nothing here yields, so
-- nothing can commit in between): its sequence, or the original's when its
-- msg-id was committed on its subject within the window (earlier in this
-- batch included); a failed expected-last-sequence or an expired upload
-- refuses the whole batch. Returns the plan, or nil and the refusal.
-- `internal` rows are the store's own (dead letters, redriven messages):
-- they carry a publisher's headers, but no msg-id, expected-last-sequence,
-- upload or limit check applies to them, so they are never refused.
local function plan_rows(rows, now, internal)
    local counters = {}
    local subjects = {}
    local ids = {}
    local seen_keys = {}
    local plan = { counters = counters, subjects = subjects, first = {}, sequences = {}, duplicates = {}, ids = {}, internal = internal }
    for i, row in ipairs(rows) do
        local subject, headers, key = row[1], row[3], row[6]
        local id = nil
        if not internal then
            id = headers['msg-id']
        end
        local original = nil
        if id ~= nil and id ~= '' then
            local batch_ids = ids[subject]
            if batch_ids == nil then
                batch_ids = {}
                ids[subject] = batch_ids
            end
            original = batch_ids[id]
            if original == nil then
                local entry = box.space.mts_msg_ids:get({ subject, id })
                if entry ~= nil and entry.expires_ms > now then
                    original = entry.sequence
                end
            end
        end
        if original ~= nil then
            plan.duplicates[#plan.duplicates + 1] = { i, decimal(original) }
        else
            local counter = counters[subject]
            if counter == nil then
                local stored = box.space.mts_subjects:get(subject)
                counter = stored and { stored.last_sequence, stored.message_count, stored.bytes } or { 0, 0, 0 }
                counters[subject] = counter
                subjects[#subjects + 1] = subject
                plan.first[subject] = counter[1] + 1
            end
            local expected = not internal and headers['expected-last-sequence'] or nil
            if expected ~= nil and tonumber64(expected) ~= counter[1] then
                return nil, { ok = false, code = 'WRONG_LAST_SEQUENCE', index = i - 1, last = decimal(counter[1]) }
            end
            if key ~= '' and not internal then
                if seen_keys[key] or box.space.mts_pending_uploads:get(key) == nil then
                    return nil, { ok = false, code = 'UPLOAD_EXPIRED', object_key = key }
                end
                seen_keys[key] = true
            end
            -- Only a stored row counts against the limits: a duplicate stores nothing.
            local policy = not internal and policy_for(subject)
            local limit, value = broken_limit(policy, counter[2], counter[3], row[4])
            if limit ~= nil then
                return nil, {
                    ok = false, code = 'LIMIT_EXCEEDED', limit = limit, value = decimal(value), pattern = policy.pattern,
                    subject = subject, index = i,
                }
            end
            counter[1] = counter[1] + 1
            counter[2] = counter[2] + 1
            counter[3] = counter[3] + row[4]
            plan.sequences[i] = counter[1]
            if id ~= nil and id ~= '' then
                ids[subject][id] = counter[1]
                plan.ids[i] = id
            end
        end
    end
    return plan, nil
end

-- Writes positional rows as plan_rows decided, inside the caller's
-- transaction. Each subject's counter row is written once, however many of
-- its messages the batch holds; subjects whose rows were all duplicates are
-- not touched.
local function write_rows(rows, plan, now, window_ms)
    local messages = box.space.mts_messages
    local pending = box.space.mts_pending_uploads
    local ids = box.space.mts_msg_ids
    local expires = now + window_ms
    local remembered, objects = 0, 0
    for i, row in ipairs(rows) do
        local sequence = plan.sequences[i]
        if sequence ~= nil then
            messages:insert({ row[1], sequence, row[2], setmetatable(row[3], { __serialize = 'map' }), row[4], row[5], row[6] })
            if row[6] ~= '' and plan.internal then
                -- The store's own rows name an object another message names already.
                box.space.mts_shared_objects:upsert({ row[6], 2 }, { { '+', 'refs', 1 } })
            elseif row[6] ~= '' then
                pending:delete(row[6])
                objects = objects + 1
            end
            local id = plan.ids[i]
            if id ~= nil then
                ids:replace({ row[1], id, sequence, expires })
                remembered = remembered + 1
            end
        end
    end
    for subject, counter in pairs(plan.counters) do
        box.space.mts_subjects:replace({ subject, counter[1], counter[2], counter[3] })
    end
    if objects > 0 then
        box.space.mts_counters:upsert({ 'objects', objects }, { { '+', 'value', objects } })
    end
    -- Bounded, and faster than entries arrive, so the space holds about one window's worth.
    for _, victim in ipairs(expired_msg_ids(now, expiry_batch_min + 2 * remembered)) do
        ids:delete(victim)
    end
end

-- After the transaction of write_rows committed: tells the change feed and
-- the waiters each subject's new last sequence; duplicates wake nobody.
local function announce_rows(plan)
    for subject, counter in pairs(plan.counters) do
        feed_append({ subject = subject, first = decimal(plan.first[subject]), last = decimal(counter[1]) })
        local watcher = watchers[subject]
        if watcher ~= nil then
            watcher.cond:broadcast()
        end
    end
    if #plan.subjects > 0 then
        feed.cond:broadcast()
    end
end

-- Commits positional rows in one transaction. Returns the plan, or nil and the refusal.
local function commit_rows(rows, window_ms)
    local now = now_ms()
    local plan, refusal = plan_rows(rows, now, false)
    if plan == nil then
        return nil, refusal
    end
    transaction(function()
        write_rows(rows, plan, now, window_ms)
    end)
    announce_rows(plan)
    return plan, nil
end

--- Commits a batch of records in one transaction, all or nothing. A record is
--- positional, {subject, timestamp_ms, headers, size, data, object_key} with
--- data as raw bytes (MessagePack bin) or nil: then the answer is
--- {ok = true, first = {decimal...}, duplicates = {{index, decimal}...}}:
--- `first` holds the first new sequence of each subject in the order the
--- subjects first appear among the stored records (a list, so no subject is
--- ever a map key on the client), its later stored records numbered on in
--- input order; `duplicates` lists the records (1-based index) whose msg-id
--- header was committed on their subject less than `window_ms` (default
--- 2 minutes) ago, or earlier in this batch, with the original sequence: they
--- store nothing. A record may also be a map {subject, timestamp_ms, headers,
--- size, data (base64 or nil), object_key}, as ingresses before the
--- positional form send it: then the answer is {ok = true, sequences =
--- {decimal...}} in input order. Refusals, with nothing committed:
--- {ok = false, code = 'UPLOAD_EXPIRED', object_key = k} when an object key
--- has no pending-upload row; {ok = false, code = 'WRONG_LAST_SEQUENCE',
--- index (0-based), last} when a record's expected-last-sequence header is not
--- its subject's last sequence at that point of the batch; {ok = false,
--- code = 'LIMIT_EXCEEDED', limit, value, pattern, subject, index (1-based)}
--- when the retention policy of a stored record's subject refuses it;
--- {ok = false, code = 'STORE_FULL', used_percent, refuse_percent} when memtx
--- is too full to take more, with `problem` (the error message) when memtx
--- could not allocate the batch's tuples below refuse_percent.
function mts_commit(batch, window_ms)
    local used = memtx_used_percent()
    if used >= refuse_percent then
        return store_full(used)
    end
    local positional = batch[1] == nil or batch[1][1] ~= nil
    local rows = batch
    if not positional then
        rows = {}
        for i, record in ipairs(batch) do
            rows[i] = row_of_map(record)
        end
    end
    local window = window_ms ~= nil and window_ms ~= box.NULL and u64(window_ms, 'window_ms') or default_duplicate_window_ms
    local committed, plan, refusal = pcall(commit_rows, rows, window)
    if not committed then
        -- memtx ran out inside the transaction, which was rolled back: full, not broken.
        -- 2.6 raises it as type OutOfMemory without a code; later versions give it MEMORY_ISSUE.
        if type(plan) == 'cdata' and (plan.type == 'OutOfMemory' or plan.code == box.error.MEMORY_ISSUE) then
            return store_full(memtx_used_percent(), plan.message)
        end
        error(plan)
    end
    if plan == nil then
        return refusal
    end
    if positional then
        local answer = {}
        for i, subject in ipairs(plan.subjects) do
            answer[i] = decimal(plan.first[subject])
        end
        return { ok = true, first = answer, duplicates = plan.duplicates }
    end
    local sequences = {}
    for _, duplicate in ipairs(plan.duplicates) do
        sequences[duplicate[1]] = duplicate[2]
    end
    for i = 1, #rows do
        if plan.sequences[i] ~= nil then
            sequences[i] = decimal(plan.sequences[i])
        end
    end
    return { ok = true, sequences = sequences }
end

-- A stored message as mts_read_after and the change feed answer it.
local function wire_row(t)
    return {
        sequence = decimal(t.sequence),
        timestamp_ms = t.timestamp_ms,
        headers = t.headers,
        size = t.size,
        data = t.data ~= nil and b64(t.data) or box.NULL,
        object_key = t.object_key,
    }
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
        rows[#rows + 1] = wire_row(t)
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
        feed_append({ subject = subject, durable = durable, floor = decimal(floor) })
        feed.cond:broadcast()
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

--- Last sequences of many subjects in one call, in input order ('0' if none).
function mts_last_sequences(subjects)
    local lasts = {}
    for i, subject in ipairs(subjects) do
        lasts[i] = decimal(last_sequence(subject))
    end
    return { ok = true, lasts = lasts }
end

-- The stored rows of `subject` after `after` up to `last` and their payload
-- bytes, or nil when one of them is an object or they pass `budget` bytes
-- (checked before any row is encoded).
local function inline_rows(subject, after, last, budget)
    local tuples, bytes = {}, 0
    for _, t in box.space.mts_messages:pairs({ subject, after }, { iterator = 'GT' }) do
        if t.subject ~= subject or t.sequence > last then
            break
        end
        bytes = bytes + t.size
        if t.object_key ~= '' or bytes > budget then
            return nil
        end
        tuples[#tuples + 1] = t
    end
    local rows = {}
    for i, t in ipairs(tuples) do
        rows[i] = wire_row(t)
    end
    return rows, bytes
end

-- A commit of more messages carries none (carriedMessagesMax in store.ts).
local carried_messages_max = 1000

-- Feed changes as answered with carried messages: a commit of a subject in
-- `wanted` (any when nil) whose rows are all inline and fit what is left of
-- `budget` bytes gains {after, rows}. Read as the answer is made (no yield),
-- so the rows are what mts_read_after would return then. The ring's own
-- entries are never changed.
local function with_carried(changes, budget, wanted)
    local answered = {}
    for i, change in ipairs(changes) do
        answered[i] = change
        if change.first ~= nil and budget > 0 and (wanted == nil or wanted[change.subject]) then
            local after = u64(change.first, 'first') - 1
            local last = u64(change.last, 'last')
            local rows, bytes = nil, 0
            if last - after <= carried_messages_max then
                rows, bytes = inline_rows(change.subject, after, last, budget)
            end
            if rows ~= nil then
                answered[i] = { subject = change.subject, first = change.first, last = change.last, after = decimal(after), rows = rows }
                budget = budget - bytes
            end
        end
    end
    return answered
end

--- The change feed after `cursor`: blocks until something changed or
--- `timeout_s` passes, then returns {ok, cursor, changes} with at most `limit`
--- changes in commit order, each {subject, first, last} (a commit of the
--- sequences first..last), {subject, durable, floor} (an ack) or {consumer,
--- subject = '', last = '0'} (a configured consumer's leases changed). With
--- `carry_bytes` above 0 a commit whose messages are all inline may carry
--- them, {after, rows} as mts_read_after(subject, after) would answer up to
--- `last`, with at most `carry_bytes` payload bytes per answer in all; only
--- commits of the subjects listed in `carry_subjects`, unless it is nil.
--- Answers {ok, cursor, resync = true} at once when
--- the cursor is '' or of another epoch, or so old that the ring dropped what
--- followed it: the caller then re-reads what it watches, from that cursor on.
function mts_wait_for_changes(cursor, timeout_s, limit, carry_bytes, carry_subjects)
    local epoch, version = tostring(cursor):match('^(%d+):(%d+)$')
    version = tonumber(version)
    if epoch ~= feed.epoch or version > feed.version or version < feed.version - feed_capacity then
        return { ok = true, cursor = feed_cursor(), resync = true }
    end
    local deadline = fiber.clock() + math.min(tonumber(timeout_s) or 0, 3600)
    while feed.version == version do
        local remaining = deadline - fiber.clock()
        if remaining <= 0 then
            return { ok = true, cursor = feed_cursor(), changes = {} }
        end
        feed.cond:wait(remaining)
    end
    local last = math.min(feed.version, version + math.max(tonumber(limit) or 1, 1))
    local changes = {}
    for v = version + 1, last do
        changes[#changes + 1] = feed.ring[v % feed_capacity]
    end
    local budget = tonumber(carry_bytes) or 0
    if budget > 0 then
        local wanted = nil
        if carry_subjects ~= nil and carry_subjects ~= box.NULL then
            wanted = {}
            for _, subject in ipairs(carry_subjects) do
                wanted[subject] = true
            end
        end
        changes = with_carried(changes, budget, wanted)
    end
    return { ok = true, cursor = feed.epoch .. ':' .. last, changes = changes }
end

--- Blocks until the subject's last sequence exceeds `after` or `timeout_s`
--- passes, then returns the last sequence. Woken by mts_commit, never polls.
--- Kept for egress replicas of the previous release during a rolling update;
--- this release waits with mts_wait_for_changes.
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

-- A deleted message named `key`: the object is queued in mts_deleted_objects
-- (and counted out of the objects stored) once no other message names it, so
-- no object outlives its metadata unnoticed and none goes while still named.
local function release_object(key)
    local shared = box.space.mts_shared_objects:get(key)
    if shared == nil then
        box.space.mts_deleted_objects:replace({ key })
        box.space.mts_counters:update('objects', { { '-', 'value', 1 } })
    elseif shared.refs <= 2 then
        box.space.mts_shared_objects:delete(key)
    else
        box.space.mts_shared_objects:update(key, { { '-', 'refs', 1 } })
    end
end

-- Deletes the given rows of one subject inside the caller's transaction: the
-- subject's counters follow (its last sequence never moves), their objects are released.
local function forget_rows(subject, victims)
    local bytes = 0
    for _, t in ipairs(victims) do
        box.space.mts_messages:delete({ t.subject, t.sequence })
        bytes = bytes + t.size
        if t.object_key ~= '' then
            release_object(t.object_key)
        end
    end
    box.space.mts_subjects:update(subject, { { '-', 'message_count', #victims }, { '-', 'bytes', bytes } })
end

-- forget_rows in one transaction, counted in the store-wide counter `reason` ('expired' or 'purged').
local function delete_rows(subject, victims, reason)
    if #victims == 0 then
        return
    end
    transaction(function()
        forget_rows(subject, victims)
        box.space.mts_counters:upsert({ reason, #victims }, { { '+', 'value', #victims } })
    end)
end

-- Up to `max` of the subject's oldest rows for which `doomed(t, count, bytes)`
-- holds, given the count and bytes that would remain before deleting t.
local function oldest_while(subject, max, doomed)
    local counter = box.space.mts_subjects:get(subject)
    if counter == nil then
        return {}
    end
    local count, bytes = counter.message_count, counter.bytes
    local victims = {}
    for _, t in box.space.mts_messages:pairs({ subject }, { iterator = 'GE' }) do
        if t.subject ~= subject or #victims >= max or not doomed(t, count, bytes) then
            break
        end
        victims[#victims + 1] = t
        count = count - 1
        bytes = bytes - t.size
    end
    return victims
end

--- Purge: deletes messages of `subject` with sequence <= `sequence`, at most
--- `limit` (default 1000) per call so a transaction stays short. Object keys
--- of deleted messages go to the deleted-objects queue. Returns the number
--- deleted and `more = true` when rows remain below the bound.
function mts_delete_through(subject, sequence, limit)
    local through = u64(sequence, 'sequence')
    local max = tonumber(limit) or 1000
    local victims = oldest_while(subject, max + 1, function(t)
        return t.sequence <= through
    end)
    local more = #victims > max
    if more then
        victims[#victims] = nil
    end
    delete_rows(subject, victims, 'purged')
    return { ok = true, deleted = #victims, more = more }
end

-- The expiry worker: one fiber applies the stored policies, in batches of
-- `expiry.batch` rows, one transaction each, yielding between them so
-- commits interleave. It runs every `expiry.interval_s` and at once when a
-- policy changes.
local expiry = { batch = 100, interval_s = expiry_interval_s, wake = fiber.cond() }

-- Age always expires messages; count and bytes only when the policy drops
-- old messages (with discard 'new' the publish is refused instead).
-- Under interest retention, what every durable consumer of the subject has
-- acknowledged, configured consumers' positions included; 0 while it has
-- none (nothing is deleted before anyone reads).
local function acked_by_all(subject)
    local lowest = nil
    for _, space in ipairs({ box.space.mts_consumers, box.space.mts_consumer_positions }) do
        for _, row in space.index.subject:pairs(subject) do
            if lowest == nil or row.ack_floor < lowest then
                lowest = row.ack_floor
            end
        end
    end
    return lowest or 0
end

-- Whether a policy can ever expire anything; one that cannot costs no pass.
local function expires_anything(policy)
    return policy.max_age_ms > 0 or policy.retention == 'interest'
        or (policy.discard ~= 'new' and (policy.max_messages > 0 or policy.max_bytes > 0))
end

local function over_limits(policy, now_ms, acked)
    local drops_old = policy.discard ~= 'new'
    return function(t, count, bytes)
        return (drops_old and policy.max_messages > 0 and count > policy.max_messages)
            or (drops_old and policy.max_bytes > 0 and bytes > policy.max_bytes)
            or (policy.max_age_ms > 0 and t.timestamp_ms + policy.max_age_ms < now_ms)
            or (acked ~= nil and t.sequence <= acked)
    end
end

-- One pass over every subject; returns how many messages it deleted.
local function expire_all()
    local subjects = {}
    for _, row in box.space.mts_subjects:pairs() do
        subjects[#subjects + 1] = row.subject
    end
    local deleted = 0
    for _, subject in ipairs(subjects) do
        while not box.info.ro do
            local policy = policy_for(subject)
            if not policy or not expires_anything(policy) then
                break
            end
            local acked = policy.retention == 'interest' and acked_by_all(subject) or nil
            local victims = oldest_while(subject, expiry.batch, over_limits(policy, math.floor(fiber.time() * 1000), acked))
            delete_rows(subject, victims, 'expired')
            deleted = deleted + #victims
            fiber.yield()
            if #victims < expiry.batch then
                break
            end
        end
    end
    return deleted
end

local function expiry_loop()
    while true do
        if not box.info.ro then
            local ok, err = pcall(expire_all)
            if not ok then
                log.error('mts: expiry pass failed: %s', tostring(err))
            end
        end
        expiry.wake:wait(expiry.interval_s)
    end
end

local function policy_answer(row)
    return {
        pattern = row.pattern, max_age_ms = decimal(row.max_age_ms), max_messages = decimal(row.max_messages),
        max_bytes = decimal(row.max_bytes), max_message_bytes = decimal(row.max_message_bytes or 0), discard = row.discard or 'old',
        retention = row.retention or 'limits',
    }
end

--- Stores the policy of `pattern`: limits as decimal strings (0 = unlimited),
--- discard 'old' or 'new', retention 'limits' or 'interest'. Wakes the expiry worker.
function mts_set_retention(pattern, max_age_ms, max_messages, max_bytes, max_message_bytes, discard, retention)
    if discard ~= nil and discard ~= 'old' and discard ~= 'new' then
        error(string.format("discard must be 'old' or 'new', not %s", tostring(discard)))
    end
    if retention ~= nil and retention ~= 'limits' and retention ~= 'interest' then
        error(string.format("retention must be 'limits' or 'interest', not %s", tostring(retention)))
    end
    box.space.mts_retention_policies:replace({
        pattern, u64(max_age_ms, 'max_age_ms'), u64(max_messages, 'max_messages'), u64(max_bytes, 'max_bytes'),
        u64(max_message_bytes or 0, 'max_message_bytes'), discard or 'old', retention or 'limits',
    })
    policy_cache = {}
    expiry.wake:broadcast()
    return { ok = true }
end

--- Every policy, ordered by pattern.
function mts_list_retention()
    local policies = {}
    for _, row in box.space.mts_retention_policies:pairs() do
        policies[#policies + 1] = policy_answer(row)
    end
    return { ok = true, policies = policies }
end

--- Deletes the policy of `pattern`; {ok = true, deleted} says whether there was one.
function mts_delete_retention(pattern)
    local deleted = box.space.mts_retention_policies:delete(pattern) ~= nil
    policy_cache = {}
    return { ok = true, deleted = deleted }
end

--- The policy in force for `subject`, or {ok = true} without `policy`.
function mts_retention_of(subject)
    local policy = policy_for(subject)
    return { ok = true, policy = policy and policy_answer(policy) or box.NULL }
end

-- Since when (ms) the oldest message of a subject holding `count` messages
-- has been due for deletion by its policy's max_age or max_messages, or nil.
-- A subject's stored sequences are contiguous (only its oldest are ever
-- deleted), so the message whose commit put it over max_messages is at
-- first + max_messages: two index lookups, never a scan.
-- (services/store/retention-lag.ts is the same rule for the embedded store.)
local function due_since(policy, subject, count)
    local first = box.space.mts_messages:select({ subject }, { iterator = 'GE', limit = 1 })[1]
    if first == nil or first.subject ~= subject then
        return nil
    end
    local due = nil
    if policy.max_age_ms > 0 then
        due = first.timestamp_ms + policy.max_age_ms
    end
    if policy.discard ~= 'new' and policy.max_messages > 0 and count > policy.max_messages then
        local over = box.space.mts_messages:get({ subject, first.sequence + policy.max_messages })
        if over ~= nil and (due == nil or over.timestamp_ms < due) then
            due = over.timestamp_ms
        end
    end
    return due
end

--- What the store holds and has deleted: {messages, bytes, objects, expired, purged},
--- decimal strings, memory_used_percent of memtx, and per policy (pattern)
--- the messages and bytes of its subjects and its expiry lag: how long ago
--- the oldest message its max_age or max_messages deletes became due (0 when
--- none is due). Costs one step per subject (two index lookups where a policy ages or counts).
function mts_storage_stats()
    local messages, bytes = 0ULL, 0ULL
    local by_pattern, policies = {}, setmetatable({}, { __serialize = 'seq' })
    local now = math.floor(fiber.time() * 1000)
    for _, row in box.space.mts_subjects:pairs() do
        messages = messages + row.message_count
        bytes = bytes + row.bytes
        local policy = policy_for(row.subject)
        if policy then
            local entry = by_pattern[policy.pattern]
            if entry == nil then
                entry = { pattern = policy.pattern, messages = 0ULL, bytes = 0ULL, lag_ms = 0 }
                by_pattern[policy.pattern] = entry
                policies[#policies + 1] = entry
            end
            entry.messages = entry.messages + row.message_count
            entry.bytes = entry.bytes + row.bytes
            local due = due_since(policy, row.subject, row.message_count)
            if due ~= nil and now - due > entry.lag_ms then
                entry.lag_ms = tonumber(now - due)
            end
        end
    end
    for _, entry in ipairs(policies) do
        entry.messages, entry.bytes = decimal(entry.messages), decimal(entry.bytes)
    end
    local function counter(name)
        local row = box.space.mts_counters:get(name)
        return decimal(row and row.value or 0)
    end
    return {
        ok = true, messages = decimal(messages), bytes = decimal(bytes), objects = counter('objects'),
        expired = counter('expired'), purged = counter('purged'), memory_used_percent = memtx_used_percent(), policies = policies,
    }
end

--- Up to `limit` object keys of deleted messages, for the services to remove.
function mts_deleted_objects(limit)
    local keys = {}
    for _, t in box.space.mts_deleted_objects:pairs() do
        if #keys >= tonumber(limit) then
            break
        end
        keys[#keys + 1] = t.object_key
    end
    return { ok = true, keys = keys }
end

--- Forgets queued keys whose objects are removed.
function mts_forget_deleted_objects(keys)
    transaction(function()
        for _, key in ipairs(keys) do
            box.space.mts_deleted_objects:delete(key)
        end
    end)
    return { ok = true }
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
    feed_append({ subject = subject, durable = durable, floor = decimal(wanted) })
    feed.cond:broadcast()
    return { ok = true, consumer = consumer_position(row) }
end

-- Configured consumers (services/store/consumers.ts). A consumer's
-- configuration is stored as JSON text; its knobs are read here with
-- json.decode (ackPolicy, ackWaitMs, maxDeliver, backoffMs, maxAckPending,
-- deadLetterSubject). Every write below is one transaction: positions,
-- leases, counters and the dead letters it commits change together.

local consumer_not_found = { ok = false, code = 'CONSUMER_NOT_FOUND' }
local dead_letter_headers = {
    subject = 'minitoolstream-dead-letter-subject',
    sequence = 'minitoolstream-dead-letter-sequence',
    consumer = 'minitoolstream-dead-letter-consumer',
    reason = 'minitoolstream-dead-letter-reason',
}
local delivery_count_header = 'minitoolstream-delivery-count'

-- Decoded configurations by durable, decoded again when the stored text changes.
local decoded_configs = {}

-- The stored row of `durable` and its decoded configuration, or nil.
local function consumer_of(durable)
    local row = box.space.mts_consumer_configs:get(durable)
    if row == nil then
        return nil, nil
    end
    local cached = decoded_configs[durable]
    if cached == nil or cached.text ~= row.config then
        cached = { text = row.config, config = json.decode(row.config) }
        decoded_configs[durable] = cached
    end
    return row, cached.config
end

local function consumer_record(row)
    return { config = row.config, created_ms = decimal(row.created_ms) }
end

-- Tells the waiting streams of `durable` to look again; after the commit.
-- The entry also reads as a commit of the subject '' at 0, which nobody
-- watches: egress of the previous release, which reads every entry without
-- `durable` as a commit, skips it during a rolling update instead of failing.
local function announce_consumer(durable)
    feed_append({ consumer = durable, subject = '', last = '0' })
    feed.cond:broadcast()
end

local function same_value(a, b)
    if type(a) ~= 'table' or type(b) ~= 'table' then
        return a == b
    end
    for key, value in pairs(a) do
        if not same_value(value, b[key]) then
            return false
        end
    end
    for key in pairs(b) do
        if a[key] == nil then
            return false
        end
    end
    return true
end

-- Names of the configuration fields that differ, among `names` (default: all, sorted).
local function differing_fields(stored, wanted, names)
    if names == nil then
        local union = {}
        for name in pairs(stored) do
            union[name] = true
        end
        for name in pairs(wanted) do
            union[name] = true
        end
        names = {}
        for name in pairs(union) do
            names[#names + 1] = name
        end
        table.sort(names)
    end
    local differing = {}
    for _, name in ipairs(names) do
        if not same_value(stored[name], wanted[name]) then
            differing[#differing + 1] = name
        end
    end
    return differing
end

--- Stores a new configuration (JSON text) created at `now_ms`; the same one
--- again answers the stored record. {ok = true, record = {config, created_ms}},
--- or {ok = false, code = 'CONSUMER_CONFLICT', fields} when a different one exists.
function mts_create_consumer(durable, config, now_ms)
    local configs = box.space.mts_consumer_configs
    local row = configs:get(durable)
    if row == nil then
        row = configs:insert({ durable, config, u64(now_ms, 'now_ms'), 0, 0 })
        return { ok = true, record = consumer_record(row) }
    end
    local fields = differing_fields(json.decode(row.config), json.decode(config), nil)
    if #fields > 0 then
        return { ok = false, code = 'CONSUMER_CONFLICT', fields = fields }
    end
    return { ok = true, record = consumer_record(row) }
end

--- Replaces the configuration; CONSUMER_NOT_FOUND, or CONSUMER_CONFLICT with
--- the fields when ackPolicy or deliver would change. Its streams look again.
function mts_update_consumer(durable, config)
    local configs = box.space.mts_consumer_configs
    local row = configs:get(durable)
    if row == nil then
        return consumer_not_found
    end
    local fields = differing_fields(json.decode(row.config), json.decode(config), { 'ackPolicy', 'deliver' })
    if #fields > 0 then
        return { ok = false, code = 'CONSUMER_CONFLICT', fields = fields }
    end
    row = configs:update(durable, { { '=', 'config', config } })
    announce_consumer(durable)
    return { ok = true, record = consumer_record(row) }
end

-- Deletes the rows of `space` whose key starts with `durable`; `width` is the key's length.
local function delete_consumer_rows(space, durable, width)
    local keys = {}
    for _, t in space:pairs({ durable }) do
        keys[#keys + 1] = { t:unpack(1, width) }
    end
    for _, key in ipairs(keys) do
        space:delete(key)
    end
end

--- Removes configuration, positions and leases: {ok = true, deleted}.
function mts_delete_consumer(durable)
    local deleted = false
    transaction(function()
        deleted = box.space.mts_consumer_configs:delete(durable) ~= nil
        delete_consumer_rows(box.space.mts_consumer_positions, durable, 2)
        delete_consumer_rows(box.space.mts_leases, durable, 3)
    end)
    decoded_configs[durable] = nil
    if deleted then
        announce_consumer(durable)
    end
    return { ok = true, deleted = deleted }
end

--- {ok = true, record} or {ok = true} without `record` when not configured.
function mts_consumer_record(durable)
    local row = box.space.mts_consumer_configs:get(durable)
    return { ok = true, record = row ~= nil and consumer_record(row) or box.NULL }
end

-- Answer of the calls below for a durable that is a configured consumer: they leave it alone.
local consumer_configured = { ok = false, code = 'CONSUMER_CONFIGURED' }

--- A Fetch of a durable never configured in one call: its ack floor on
--- `subject` and up to `limit` messages after it, as mts_read_after answers
--- them: {ok = true, floor, rows}; CONSUMER_CONFIGURED when `durable` is a
--- configured consumer. Nothing yields in between, so the three agree.
function mts_fetch_from_floor(durable, subject, limit)
    if box.space.mts_consumer_configs:get(durable) ~= nil then
        return consumer_configured
    end
    local floor = mts_ack_floor(durable, subject).floor
    return { ok = true, floor = floor, rows = mts_read_after(subject, floor, limit).rows }
end

--- mts_ack for a durable never configured, in one call with the check:
--- CONSUMER_CONFIGURED (and nothing changes) when `durable` is a configured consumer.
function mts_ack_unconfigured(durable, subject, sequence)
    if box.space.mts_consumer_configs:get(durable) ~= nil then
        return consumer_configured
    end
    return mts_ack(durable, subject, sequence)
end

--- Every configured consumer's record, ordered by name.
function mts_list_consumer_records()
    local records = {}
    for _, row in box.space.mts_consumer_configs:pairs() do
        records[#records + 1] = consumer_record(row)
    end
    return { ok = true, records = records }
end

--- Creates the position of each {subject, start_after} that has none, at
--- start_after (a decimal); an existing position never moves. CONSUMER_NOT_FOUND.
function mts_start_consumer_subjects(durable, starts)
    local found = false
    transaction(function()
        found = box.space.mts_consumer_configs:get(durable) ~= nil
        if not found then
            return
        end
        local positions = box.space.mts_consumer_positions
        for _, start in ipairs(starts) do
            if positions:get({ durable, start[1] }) == nil then
                local after = u64(start[2], 'start_after')
                positions:insert({ durable, start[1], after, after })
            end
        end
    end)
    return found and { ok = true } or consumer_not_found
end

-- How long the `deliveries`-th delivery of a message is leased.
local function lease_length(config, deliveries)
    local backoff = config.backoffMs
    if type(backoff) == 'table' and #backoff > 0 then
        return backoff[math.min(deliveries, #backoff)]
    end
    return config.ackWaitMs
end

-- Raises the floor of (durable, subject) to min(lowest leased - 1, delivered).
local function raise_floor(durable, subject)
    local position = box.space.mts_consumer_positions:get({ durable, subject })
    if position == nil then
        return
    end
    local floor = position.delivered
    local lowest = box.space.mts_leases:select({ durable, subject }, { limit = 1 })[1]
    if lowest ~= nil and lowest.sequence - 1 < floor then
        floor = lowest.sequence - 1
    end
    if floor ~= position.ack_floor then
        box.space.mts_consumer_positions:update({ durable, subject }, { { '=', 'ack_floor', floor } })
    end
end

-- What one consumer transaction does besides its own writes: subjects whose
-- floor may rise, messages it dead-lettered (and the rows to commit for
-- them), whether waiting streams should look again.
local function consumer_work(durable, config, now)
    return { durable = durable, config = config, now = now, touched = {}, dead_lettered = 0, dead = {}, changed = false }
end

-- The dead letter of message `t` as a positional row: the original's headers
-- and payload (an object shared by key) and where it came from.
local function dead_letter_row(work, t, deliveries, reason)
    local headers = {}
    for name, value in pairs(t.headers) do
        headers[name] = value
    end
    headers[dead_letter_headers.subject] = t.subject
    headers[dead_letter_headers.sequence] = decimal(t.sequence)
    headers[dead_letter_headers.consumer] = work.durable
    headers[dead_letter_headers.reason] = reason
    headers[delivery_count_header] = tostring(deliveries)
    return { work.config.deadLetterSubject, work.now, headers, t.size, t.data, t.object_key }
end

-- Ends a lease: its message is settled, and with a `reason` dead-lettered
-- (when retention has not deleted it already).
local function end_lease(work, lease, reason)
    box.space.mts_leases:delete({ lease.durable, lease.subject, lease.sequence })
    work.touched[lease.subject] = true
    work.changed = true
    if reason == nil then
        return
    end
    local t = box.space.mts_messages:get({ lease.subject, lease.sequence })
    if t == nil then
        return
    end
    work.dead_lettered = work.dead_lettered + 1
    if work.config.deadLetterSubject ~= '' then
        work.dead[#work.dead + 1] = dead_letter_row(work, t, lease.deliveries, reason)
    end
end

-- The end of a consumer transaction: floors, the dead-letter counter, and the
-- dead letters committed like any message of their subject.
local function finish_work(work)
    for subject in pairs(work.touched) do
        raise_floor(work.durable, subject)
    end
    if work.dead_lettered > 0 then
        box.space.mts_consumer_configs:update(work.durable, { { '+', 'dead_lettered_total', work.dead_lettered } })
    end
    if #work.dead > 0 then
        work.plan = plan_rows(work.dead, work.now, true)
        write_rows(work.dead, work.plan, work.now, default_duplicate_window_ms)
    end
end

-- After the commit of a consumer transaction.
local function announce_work(work)
    if work.plan ~= nil then
        announce_rows(work.plan)
    end
    if work.changed then
        announce_consumer(work.durable)
    end
end

-- A leased message as mts_lease answers it.
local function leased_row(t, deliveries)
    local row = wire_row(t)
    row.subject = t.subject
    row.deliveries = deliveries
    return row
end

--- Leases messages to a worker: first those whose lease expired by `now_ms`
--- (oldest first; one delivered maxDeliver times is dead-lettered instead),
--- then messages after `delivered` of each of `subjects` that has a position,
--- in the order given, while maxAckPending leases are not held. At most
--- `max_messages` rows and `max_bytes` payload bytes (the first row always).
--- Expired leases are already held, so they are redelivered at a full
--- maxAckPending too. {ok = true, rows = {{subject, sequence, timestamp_ms,
--- headers, size, data (base64 or null), object_key, deliveries}...},
--- dead_lettered, next_expiry_ms (decimal or null)}; CONSUMER_NOT_FOUND.
-- Expired leases one lease call looks at, at most: bounds the transaction.
local expired_scan_max = 1000

function mts_lease(durable, subjects, max_messages, max_bytes, now_ms)
    local row, config = consumer_of(durable)
    if row == nil then
        return consumer_not_found
    end
    local work = consumer_work(durable, config, u64(now_ms, 'now_ms'))
    local now = work.now
    local rows, bytes = {}, 0
    local function fits(size)
        return #rows < max_messages and (#rows == 0 or bytes + size <= max_bytes)
    end
    local function hand_out(t, deliveries)
        rows[#rows + 1] = leased_row(t, deliveries)
        bytes = bytes + t.size
    end
    local next_expiry = box.NULL
    transaction(function()
        local leases = box.space.mts_leases
        local messages = box.space.mts_messages
        local held = leases.index.primary:count({ durable })
        -- Only the caller's subjects: a worker never holds what its token may not fetch.
        local wanted = {}
        for _, subject in ipairs(subjects) do
            wanted[subject] = true
        end
        local expired = {}
        for _, lease in leases.index.expiry:pairs({ durable }, { iterator = 'GE' }) do
            if lease.durable ~= durable or lease.lease_until_ms > now or #expired >= expired_scan_max then
                break
            end
            if wanted[lease.subject] then
                expired[#expired + 1] = lease
            end
        end
        for _, lease in ipairs(expired) do
            local t = messages:get({ lease.subject, lease.sequence })
            if t == nil then
                end_lease(work, lease, nil)
                held = held - 1
            elseif config.maxDeliver > 0 and lease.deliveries >= config.maxDeliver then
                end_lease(work, lease, 'max_deliver')
                held = held - 1
            elseif fits(t.size) then
                local deliveries = lease.deliveries + 1
                leases:update({ durable, lease.subject, lease.sequence }, {
                    { '=', 'deliveries', deliveries }, { '=', 'lease_until_ms', now + lease_length(config, deliveries) },
                })
                hand_out(t, deliveries)
            else
                break
            end
        end
        local room = config.maxAckPending - held
        local positions = box.space.mts_consumer_positions
        for _, subject in ipairs(subjects) do
            local position = positions:get({ durable, subject })
            if position ~= nil then
                local delivered = position.delivered
                for _, t in messages:pairs({ subject, delivered }, { iterator = 'GT' }) do
                    if t.subject ~= subject or room <= 0 or not fits(t.size) then
                        break
                    end
                    leases:insert({ durable, subject, t.sequence, 1, now + lease_length(config, 1) })
                    hand_out(t, 1)
                    room = room - 1
                    delivered = t.sequence
                end
                if delivered ~= position.delivered then
                    positions:update({ durable, subject }, { { '=', 'delivered', delivered } })
                    work.touched[subject] = true
                end
            end
        end
        if #rows > 0 then
            box.space.mts_consumer_configs:update(durable, { { '+', 'delivered_total', #rows } })
        end
        finish_work(work)
        local soonest = leases.index.expiry:select({ durable }, { limit = 1 })[1]
        if soonest ~= nil then
            next_expiry = decimal(soonest.lease_until_ms)
        end
    end)
    announce_work(work)
    return { ok = true, rows = rows, dead_lettered = work.dead_lettered, next_expiry_ms = next_expiry }
end

-- Applies one settlement {subject, sequence, kind, delay_ms, delivery_count}
-- and answers 'applied', 'not_pending' or 'stale'.
local function settle_one(work, settlement)
    local leases = box.space.mts_leases
    local durable, subject = work.durable, settlement.subject
    local sequence = u64(settlement.sequence, 'sequence')
    local kind = settlement.kind
    if kind == 'ack' and work.config.ackPolicy == 'all' then
        local settled = {}
        for _, lease in leases:pairs({ durable, subject }) do
            if lease.sequence > sequence then
                break
            end
            settled[#settled + 1] = lease
        end
        for _, lease in ipairs(settled) do
            end_lease(work, lease, nil)
        end
        return #settled > 0 and 'applied' or 'not_pending'
    end
    local lease = leases:get({ durable, subject, sequence })
    if lease == nil then
        return 'not_pending'
    end
    if kind == 'ack' then
        end_lease(work, lease, nil)
        return 'applied'
    end
    local count = settlement.delivery_count
    if count ~= nil and count ~= lease.deliveries then
        return 'stale'
    end
    if kind == 'nak' then
        leases:update({ durable, subject, sequence }, { { '=', 'lease_until_ms', work.now + (tonumber(settlement.delay_ms) or 0) } })
        work.changed = true
    elseif kind == 'progress' then
        leases:update({ durable, subject, sequence }, { { '=', 'lease_until_ms', work.now + lease_length(work.config, lease.deliveries) } })
    elseif kind == 'term' then
        end_lease(work, lease, 'term')
    else
        error(string.format('unknown settlement kind %s', tostring(kind)))
    end
    return 'applied'
end

--- Applies settlements in order, in one transaction: {ok = true, outcomes =
--- {'applied' | 'not_pending' | 'stale'...}}; CONSUMER_NOT_FOUND. Each is
--- {subject, sequence (decimal), kind ('ack', 'nak', 'progress', 'term'),
--- delay_ms, delivery_count (or null)}.
function mts_settle(durable, settlements, now_ms)
    local row, config = consumer_of(durable)
    if row == nil then
        return consumer_not_found
    end
    local work = consumer_work(durable, config, u64(now_ms, 'now_ms'))
    local outcomes = {}
    transaction(function()
        for i, settlement in ipairs(settlements) do
            outcomes[i] = settle_one(work, settlement)
        end
        finish_work(work)
    end)
    announce_work(work)
    return { ok = true, outcomes = outcomes }
end

--- What a configured consumer holds and has done: {ok = true, stats =
--- {record, positions = {{subject, ack_floor, delivered, last_sequence}...},
--- delivered, ack_pending, redelivered, dead_lettered, oldest_unacked_ms (or
--- null)}}, or {ok = true} without `stats` when not configured.
function mts_consumer_stats(durable)
    local row = box.space.mts_consumer_configs:get(durable)
    if row == nil then
        return { ok = true, stats = box.NULL }
    end
    local positions, oldest = {}, nil
    for _, position in box.space.mts_consumer_positions:pairs({ durable }) do
        local subject = position.subject
        positions[#positions + 1] = {
            subject = subject, ack_floor = decimal(position.ack_floor), delivered = decimal(position.delivered),
            last_sequence = decimal(last_sequence(subject)),
        }
        local unsettled = box.space.mts_messages:select({ subject, position.ack_floor }, { iterator = 'GT', limit = 1 })[1]
        if unsettled ~= nil and unsettled.subject == subject and (oldest == nil or unsettled.timestamp_ms < oldest) then
            oldest = unsettled.timestamp_ms
        end
    end
    local pending, redelivered = 0, 0
    for _, lease in box.space.mts_leases:pairs({ durable }) do
        pending = pending + 1
        if lease.deliveries > 1 then
            redelivered = redelivered + 1
        end
    end
    return {
        ok = true,
        stats = {
            record = consumer_record(row), positions = positions, delivered = decimal(row.delivered_total), ack_pending = pending,
            redelivered = redelivered, dead_lettered = decimal(row.dead_lettered_total),
            oldest_unacked_ms = oldest ~= nil and decimal(oldest) or box.NULL,
        },
    }
end

-- A dead letter going back to its subject: the headers it had before.
local function redriven_row(t, subject, now)
    local headers = {}
    for name, value in pairs(t.headers) do
        headers[name] = value
    end
    for _, name in pairs(dead_letter_headers) do
        headers[name] = nil
    end
    headers[delivery_count_header] = nil
    return { subject, now, headers, t.size, t.data, t.object_key }
end

--- Moves up to `limit` dead letters of `dead_letter_subject` with `from` <=
--- sequence <= `to` (0: no bound) back to the subjects their header names,
--- in order, in one transaction: new sequences, payload shared, the dead
--- letters deleted. Messages without the header are skipped.
--- {ok = true, moved, last_examined (decimal, '0' when none)}.
function mts_redrive(dead_letter_subject, from, to, limit)
    local first, last = u64(from, 'from'), u64(to, 'to')
    local max = tonumber(limit)
    local now = now_ms()
    local rows, moved, examined = {}, {}, 0
    local plan = nil
    transaction(function()
        for _, t in box.space.mts_messages:pairs({ dead_letter_subject, first }, { iterator = 'GE' }) do
            if t.subject ~= dead_letter_subject or (last > 0 and t.sequence > last) or #rows >= max then
                break
            end
            examined = t.sequence
            local origin = t.headers[dead_letter_headers.subject]
            if origin ~= nil then
                rows[#rows + 1] = redriven_row(t, origin, now)
                moved[#moved + 1] = t
            end
        end
        if #rows > 0 then
            plan = plan_rows(rows, now, true)
            write_rows(rows, plan, now, default_duplicate_window_ms)
            forget_rows(dead_letter_subject, moved)
        end
    end)
    if plan ~= nil then
        announce_rows(plan)
    end
    return { ok = true, moved = #rows, last_examined = decimal(examined) }
end

local procedures = {
    'mts_ping', 'mts_commit', 'mts_read_after', 'mts_last_sequence', 'mts_ack_floor', 'mts_ack',
    'mts_claim_consumer', 'mts_wait_for_commit', 'mts_wait_for_changes', 'mts_last_sequences', 'mts_add_pending_upload',
    'mts_list_stale_pending_uploads', 'mts_remove_pending_upload', 'mts_delete_through', 'mts_list_subjects',
    'mts_subject_info', 'mts_list_consumers', 'mts_consumer_info', 'mts_reset_consumer', 'mts_set_retention',
    'mts_deleted_objects', 'mts_forget_deleted_objects', 'mts_list_retention', 'mts_delete_retention', 'mts_retention_of',
    'mts_storage_stats', 'mts_create_consumer', 'mts_update_consumer', 'mts_delete_consumer', 'mts_consumer_record',
    'mts_list_consumer_records', 'mts_start_consumer_subjects', 'mts_lease', 'mts_settle', 'mts_consumer_stats', 'mts_redrive',
    'mts_fetch_from_floor', 'mts_ack_unconfigured',
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
-- Loading this file again (as the tests do) keeps one worker.
if rawget(_G, 'mts_expiry_fiber') == nil or rawget(_G, 'mts_expiry_fiber'):status() == 'dead' then
    rawset(_G, 'mts_expiry_fiber', fiber.create(expiry_loop))
end
log.info('mts: ready, listening on %s, wal_mode %s', tostring(box.cfg.listen), box.cfg.wal_mode)

return { migrate = migrate, grant = grant, procedures = procedures, expire_all = expire_all }
