#!/usr/bin/env tarantool
-- Tests of every stored procedure of init.lua, run in-process as admin.
-- Usage: TARANTOOL_WORK_DIR=<empty temp dir> tarantool procedures.test.lua
-- (procedures.test.ts runs it that way under `npm test`).

local tap = require('tap')
local fiber = require('fiber')
local digest = require('digest')
local fio = require('fio')

local here = fio.dirname(debug.getinfo(1, 'S').source:sub(2))
local init_path = fio.pathjoin(here, '..', 'init.lua')
local app = dofile(init_path)

local function msg(subject, text)
    return {
        subject = subject, timestamp_ms = 1700000000000, headers = { ['content-type'] = 'text/plain' },
        size = #text, data = digest.base64_encode(text, { nowrap = true }), object_key = '',
    }
end

local function object(subject, key, size)
    return { subject = subject, timestamp_ms = 1700000000000, headers = {}, size = size, data = box.NULL, object_key = key }
end

-- All 256 byte values, in order.
local function every_byte()
    local bytes = {}
    for i = 0, 255 do
        bytes[#bytes + 1] = string.char(i)
    end
    return table.concat(bytes)
end

local test = tap.test('mts procedures')
test:plan(25)

test:test('ping', function(t)
    t:plan(1)
    t:ok(mts_ping().ok, 'answers ok')
end)

test:test('commit assigns gapless sequences per subject', function(t)
    t:plan(6)
    local r = mts_commit({ msg('a', 'one'), msg('b', 'uno'), msg('a', 'two') })
    t:ok(r.ok, 'batch committed')
    t:is_deeply(r.sequences, { '1', '1', '2' }, 'each subject counts from 1, in input order')
    r = mts_commit({ msg('a', 'three') })
    t:is_deeply(r.sequences, { '3' }, 'next batch continues the subject')
    t:is(mts_last_sequence('a').last, '3', 'last sequence of a')
    t:is(mts_last_sequence('nobody').last, '0', 'unknown subject is 0')
    t:is(box.space.mts_subjects:get('a').message_count, 3, 'message count kept')
end)

test:test('positional rows carry raw bytes and answer each subject its first sequence', function(t)
    t:plan(6)
    local all = every_byte()
    local function row(subject, data)
        return { subject, 1700000000000, { ['data-size'] = tostring(#data) }, #data, data, '' }
    end
    local r = mts_commit({ row('p', all), row('q', 'x'), row('p', ''), row('p', 'z') })
    t:ok(r.ok, 'batch committed')
    t:is_deeply(r.first, { '1', '1' }, 'the first sequence of each subject, in order of appearance')
    t:is(box.space.mts_messages:get({ 'p', 1 }).data, all, 'all 256 byte values stored as they came')
    t:is(box.space.mts_messages:get({ 'p', 3 }).data, 'z', 'later rows of a subject numbered on in input order')
    t:is(box.space.mts_subjects:get('p').message_count, 3, 'counter row written once with the whole count')
    t:is_deeply(mts_commit({ row('q', 'y'), row('p', 'next') }).first, { '2', '4' }, 'the next batch continues each subject')
end)

test:test('read_after returns rows in order with raw bytes round-tripped', function(t)
    t:plan(7)
    local all = every_byte()
    local seq = mts_commit({ msg('bin', all), msg('bin', '') }).sequences
    t:is_deeply(seq, { '1', '2' }, 'committed')
    t:is(box.space.mts_messages:get({ 'bin', 1 }).data, all, 'stored as raw bytes, not base64')
    local rows = mts_read_after('bin', '0', 10).rows
    t:is(#rows, 2, 'both rows')
    t:is(digest.base64_decode(rows[1].data), all, 'all 256 byte values survive')
    t:ok(not rows[1].data:find('\n'), 'base64 has no line breaks')
    t:is(rows[2].data, '', 'empty payload stays empty, not null')
    t:is(#mts_read_after('a', '1', 1).rows, 1, 'limit honoured')
end)

test:test('pending uploads gate object commits', function(t)
    t:plan(8)
    local r = mts_commit({ msg('obj', 'inline'), object('obj', 'k-missing', 10) })
    t:is(r.code, 'UPLOAD_EXPIRED', 'unknown key fails the batch')
    t:is(r.object_key, 'k-missing', 'and names the key')
    t:is(mts_last_sequence('obj').last, '0', 'nothing of the batch committed')
    mts_add_pending_upload('k1', '1000')
    mts_add_pending_upload('k2', '2000')
    mts_add_pending_upload('k3', '3000')
    r = mts_commit({ object('obj', 'k1', 10), object('obj', 'k1', 10) })
    t:is(r.code, 'UPLOAD_EXPIRED', 'a key used twice in one batch fails')
    r = mts_commit({ object('obj', 'k1', 10) })
    t:ok(r.ok, 'known key commits')
    t:is(box.space.mts_pending_uploads:get('k1'), nil, 'commit removed the pending row')
    t:is_deeply(mts_list_stale_pending_uploads('3000', 10).keys, { 'k2' }, 'stale keys before the bound')
    mts_remove_pending_upload('k2')
    mts_remove_pending_upload('k2')
    t:is_deeply(mts_list_stale_pending_uploads('9999', 10).keys, { 'k3' }, 'removal is idempotent')
end)

test:test('ack is cumulative, monotonic and bounded by the last sequence', function(t)
    t:plan(7)
    t:is(mts_ack_floor('d', 'a').floor, '0', 'new consumer starts at 0')
    t:is(mts_ack('d', 'a', '2').floor, '2', 'ack moves the floor')
    t:is(mts_ack('d', 'a', '1').floor, '2', 'older ack is a no-op returning the floor')
    local r = mts_ack('d', 'a', '4')
    t:is(r.ok, false, 'ack past the end fails')
    t:is(r.code, 'ACK_BEYOND_END', 'with its code')
    t:is(r.last, '3', 'and the last sequence')
    t:is(mts_ack_floor('d', 'a').floor, '2', 'floor unchanged')
end)

test:test('claim_consumer: the first owner of a (durable, subject) keeps it', function(t)
    t:plan(6)
    t:is(mts_claim_consumer('d', 'a', 'client-a').owned, true, 'first claim wins')
    t:is(mts_claim_consumer('d', 'a', 'client-a').owned, true, 'the owner again')
    t:is(mts_claim_consumer('d', 'a', 'client-b').owned, false, 'another owner is refused')
    t:is(box.space.mts_consumer_owners:get({ 'd', 'a' }).owner, 'client-a', 'the refused claim changed nothing')
    t:is(mts_claim_consumer('d', 'b', 'client-b').owned, true, 'another subject is another consumer')
    t:is(mts_claim_consumer('e', 'a', 'client-b').owned, true, 'another durable is another consumer')
end)

test:test('numbers above 2^53 stay exact', function(t)
    t:plan(3)
    local big = '9007199254740993'
    box.space.mts_subjects:replace({ 'huge', tonumber64(big), 0, 0 })
    local seq = mts_commit({ msg('huge', 'x') }).sequences[1]
    t:is(seq, '9007199254740994', 'next sequence computed in uint64')
    t:is(mts_ack('d', 'huge', seq).floor, seq, 'ack floor read back exactly')
    t:is(mts_read_after('huge', big, 1).rows[1].sequence, seq, 'read after a big sequence')
end)

test:test('wait_for_commit wakes on commit and times out', function(t)
    t:plan(4)
    t:is(mts_wait_for_commit('a', '1', 5).last, '3', 'returns at once when already past')
    local woken
    local waiter = fiber.create(function()
        woken = mts_wait_for_commit('w', '0', 5).last
    end)
    waiter:set_joinable(true)
    fiber.yield()
    local started = fiber.clock()
    mts_commit({ msg('w', 'wake') })
    waiter:join()
    t:is(woken, '1', 'woken with the new last sequence')
    t:ok(fiber.clock() - started < 1, 'woken by the commit, not the timeout')
    t:is(mts_wait_for_commit('w', '1', 0.05).last, '1', 'timeout returns the current last sequence')
end)

test:test('wait_for_changes carries inline commits within carry_bytes, as read_after answers them', function(t)
    t:plan(7)
    local cursor = mts_wait_for_changes('', 0, 100).cursor
    mts_commit({ msg('carry.a', 'one'), msg('carry.b', 'uno'), msg('carry.a', 'two') })
    local answer = mts_wait_for_changes(cursor, 5, 100, 1000)
    table.sort(answer.changes, function(l, r) return l.subject < r.subject end)
    t:is_deeply(answer.changes[1], { subject = 'carry.a', first = '1', last = '2', after = '0', rows = mts_read_after('carry.a', '0', 10).rows },
        'a commit carries its rows as read_after answers them')
    t:is_deeply(answer.changes[2].rows, mts_read_after('carry.b', '0', 10).rows, 'each subject its own')
    mts_add_pending_upload('carry-key', '1')
    mts_commit({ object('carry.a', 'carry-key', 5) })
    mts_commit({ msg('carry.a', 'three'), msg('carry.a', 'four') })
    mts_commit({ msg('carry.b', 'dos') })
    answer = mts_wait_for_changes(answer.cursor, 5, 100, 8)
    t:is(answer.changes[1].rows, nil, 'an object payload is never carried')
    t:is(answer.changes[2].rows, nil, 'a commit past the budget carries nothing')
    t:is_deeply(answer.changes[3].rows, mts_read_after('carry.b', '1', 10).rows, 'a later commit within it still does')
    mts_commit({ msg('carry.a', 'five') })
    mts_commit({ msg('carry.b', 'tres') })
    answer = mts_wait_for_changes(answer.cursor, 5, 100, 1000, { 'carry.b' })
    t:is_deeply({ answer.changes[1].rows == nil, answer.changes[2].rows ~= nil }, { true, true }, 'only the subjects listed carry')
    local many = {}
    for i = 1, 1001 do
        many[i] = msg('carry.b', '')
    end
    mts_commit(many)
    mts_commit({ msg('carry.b', '') })
    answer = mts_wait_for_changes(answer.cursor, 5, 100, 1000)
    t:is_deeply({ answer.changes[1].rows == nil, #answer.changes[2].rows }, { true, 1 }, 'a commit of more than 1000 messages carries none')
end)

test:test('wait_for_changes answers commits and acks from one call', function(t)
    t:plan(9)
    local first = mts_wait_for_changes('', 5, 100)
    t:ok(first.resync, 'an empty cursor answers resync at once')
    local cursor = first.cursor
    local changes
    local waiter = fiber.create(function()
        changes = mts_wait_for_changes(cursor, 5, 100)
    end)
    waiter:set_joinable(true)
    fiber.yield()
    local started = fiber.clock()
    mts_commit({ msg('feed.a', 'x'), msg('feed.b', 'y'), msg('feed.a', 'z') })
    waiter:join()
    t:ok(fiber.clock() - started < 1, 'woken by the commit, not the timeout')
    table.sort(changes.changes, function(l, r) return l.subject < r.subject end)
    t:is_deeply(changes.changes, { { subject = 'feed.a', first = '1', last = '2' }, { subject = 'feed.b', first = '1', last = '1' } },
        'one change per subject of the commit, with its first and last sequence')
    mts_ack('reader', 'feed.a', '1')
    mts_ack('reader', 'feed.a', '1')
    local acked = mts_wait_for_changes(changes.cursor, 5, 100)
    t:is_deeply(acked.changes, { { subject = 'feed.a', durable = 'reader', floor = '1' } },
        'an ack that moves the floor is a change; a repeated ack is not')
    local idle = mts_wait_for_changes(acked.cursor, 0.05, 100)
    t:is_deeply(idle.changes, {}, 'nothing changed: empty after the timeout')
    t:is(idle.cursor, acked.cursor, 'and the cursor stays')
    mts_commit({ msg('feed.c', '1'), msg('feed.d', '2'), msg('feed.e', '3') })
    local limited = mts_wait_for_changes(idle.cursor, 5, 2)
    t:is(#limited.changes, 2, 'at most limit changes per answer')
    t:is(#mts_wait_for_changes(limited.cursor, 5, 2).changes, 1, 'the rest follows')
    t:ok(mts_wait_for_changes('1:0', 5, 2).resync, 'a cursor of another epoch answers resync')
end)

test:test('last_sequences reads many subjects in order', function(t)
    t:plan(1)
    t:is_deeply(mts_last_sequences({ 'feed.a', 'nobody', 'feed.b' }).lasts, { '2', '0', '1' }, 'in input order')
end)

test:test('delete_through removes old rows and never lets a number be reused', function(t)
    t:plan(7)
    mts_add_pending_upload('old-object', '1')
    mts_commit({ msg('ret', 'a'), object('ret', 'old-object', 5), msg('ret', 'c') })
    local r = mts_delete_through('ret', '2')
    t:is(r.deleted, 2, 'two rows deleted')
    t:is_deeply(mts_deleted_objects(10).keys, { 'old-object' }, 'the object key is queued for the object store')
    t:is(r.more, false, 'nothing left below the bound')
    t:is(mts_read_after('ret', '0', 10).rows[1].sequence, '3', 'newer row kept')
    mts_delete_through('ret', '3')
    t:is(mts_commit({ msg('ret', 'd') }).sequences[1], '4', 'counter continues after deleting everything')
    mts_commit({ msg('ret', 'e'), msg('ret', 'f') })
    r = mts_delete_through('ret', '6', 1)
    t:is(r.more, true, 'limit leaves more to delete')
    t:is(box.space.mts_subjects:get('ret').message_count, 2, 'count follows deletes')
end)

test:test('objects stored are counted at commit and release, and recounted by the migration', function(t)
    t:plan(4)
    local function objects()
        return tonumber(mts_storage_stats().objects)
    end
    local before = objects()
    mts_add_pending_upload('counted-object', '1')
    mts_commit({ object('counted', 'counted-object', 5), msg('counted', 'x') })
    t:is(objects(), before + 1, 'a committed object counts once')
    mts_delete_through('counted', '2')
    t:is(objects(), before, 'a released object no longer counts')
    mts_forget_deleted_objects({ 'counted-object' })
    box.space.mts_counters:replace({ 'objects', before + 7 })
    local latest = box.space._mts_schema:get('version').version
    box.space._mts_schema:replace({ 'version', latest - 1 })
    app.migrate()
    t:is(box.space._mts_schema:get('version').version, latest, 'the last migration ran again')
    t:is(objects(), before, 'and recounted the objects the stored rows name')
end)

test:test('the deleted-objects queue forgets what the services removed', function(t)
    t:plan(2)
    mts_forget_deleted_objects({ 'old-object', 'never-queued' })
    t:is_deeply(mts_deleted_objects(10).keys, {}, 'queue empty')
    t:is(box.space.mts_deleted_objects:len(), 0, 'no entry left')
end)

test:test('init is idempotent', function(t)
    t:plan(3)
    local version = box.space._mts_schema:get('version').version
    app.migrate()
    app.grant()
    app = dofile(init_path)
    t:is(box.space._mts_schema:get('version').version, version, 'no migration re-ran')
    t:is(mts_last_sequence('a').last, '3', 'data untouched')
    t:ok(box.space.mts_messages ~= nil, 'spaces still there')
end)

test:test('a schema of version 1 gains the consumer owners', function(t)
    t:plan(3)
    local latest = box.space._mts_schema:get('version').version
    box.space.mts_consumer_owners:drop()
    box.space._mts_schema:replace({ 'version', 1 })
    app.migrate()
    t:is(box.space._mts_schema:get('version').version, latest, 'migrated to the latest version')
    t:is(mts_claim_consumer('d', 'a', 'client-b').owned, true, 'claims work again')
    t:is(mts_last_sequence('a').last, '3', 'data untouched')
end)

test:test('connector user may execute only our procedures', function(t)
    t:plan(3)
    local user = os.getenv('TARANTOOL_USER') or 'minitoolstream_connector'
    local privileges = box.schema.user.info(user)
    local granted, universe = {}, false
    for _, p in ipairs(privileges) do
        if p[2] == 'function' and p[1]:find('execute') then
            granted[p[3]] = true
        end
        if p[2] == 'universe' and p[3] == '' and p[1]:find('execute') then
            universe = true
        end
    end
    local all = true
    for _, name in ipairs(app.procedures) do
        all = all and granted[name] == true
    end
    t:ok(all, 'execute granted on every procedure')
    t:ok(not universe, 'no execute on universe')
    t:ok(box.func.mts_commit.setuid, 'procedures run with the owner rights')
end)

test:test('inspection: subject stats from counters, consumers, reset', function(t)
    t:plan(12)
    mts_commit({ msg('insp.a', 'one'), msg('insp.a', 'three'), msg('insp.b', 'x') })
    local listed = {}
    for _, s in ipairs(mts_list_subjects().subjects) do
        listed[s.subject] = s
    end
    t:is_deeply(listed['insp.a'], {
        subject = 'insp.a', messages = '2', bytes = '8', first_sequence = '1', last_sequence = '2',
        last_publish_ms = '1700000000000',
    }, 'a subject lists its counters, sequences and last commit time')
    t:is(listed['insp.b'].messages, '1', 'every subject is listed')
    mts_delete_through('insp.a', '1')
    local info = mts_subject_info('insp.a').subject
    t:is(info.first_sequence, '2', 'retention moves the first sequence')
    t:is(info.messages, '1', 'and the count')
    t:is(mts_subject_info('insp.none').subject, nil, 'an unknown subject has no info')

    mts_ack('reader', 'insp.a', '2')
    mts_ack('reader', 'insp.b', '1')
    t:is(#mts_list_consumers().consumers >= 2, true, 'all consumers listed')
    local of_a = mts_list_consumers('insp.a').consumers
    t:is(#of_a, 1, 'consumers of one subject')
    t:is_deeply(of_a[1], { durable = 'reader', subject = 'insp.a', ack_floor = '2', last_sequence = '2' }, 'position and last')
    t:is(mts_consumer_info('nobody', 'insp.a').consumer, nil, 'an unknown consumer has no info')
    local reset = mts_reset_consumer('reader', 'insp.a', '0')
    t:is(reset.consumer.ack_floor, '0', 'reset moves the floor down')
    t:is(mts_ack_floor('reader', 'insp.a').floor, '0', 'and it stays there')
    t:is(mts_reset_consumer('reader', 'insp.a', '9').code, 'ACK_BEYOND_END', 'not past the last sequence')
end)

local function with_headers(subject, text, headers)
    return { subject, 1700000000000, headers, #text, text, '' }
end

test:test('msg-id: a repeat inside the window answers the original and stores nothing', function(t)
    t:plan(10)
    local r = mts_commit({ with_headers('dd', 'a', { ['msg-id'] = 'x' }), with_headers('dd', 'b', { ['msg-id'] = 'y' }) })
    t:is_deeply(r.first, { '1' }, 'both new')
    t:is_deeply(r.duplicates, {}, 'no duplicates')
    local cursor = mts_wait_for_changes('', 0, 10).cursor
    r = mts_commit({ with_headers('dd', 'again', { ['msg-id'] = 'x' }) })
    t:is_deeply(r.first, {}, 'nothing stored')
    t:is_deeply(r.duplicates, { { 1, '1' } }, 'the original sequence')
    t:is_deeply(mts_wait_for_changes(cursor, 0, 10).changes, {}, 'a duplicate wakes nobody')
    t:is(mts_last_sequence('dd').last, '2', 'the subject did not move')
    r = mts_commit({ with_headers('dd', 'c', { ['msg-id'] = 'z' }), with_headers('dd', 'c2', { ['msg-id'] = 'z' }),
        with_headers('dd', 'd', {}), with_headers('other', 'e', { ['msg-id'] = 'z' }) })
    t:is_deeply(r.first, { '3', '1' }, 'new rows numbered around the duplicate; another subject has its own ids')
    t:is_deeply(r.duplicates, { { 2, '3' } }, 'a repeat within one batch is a duplicate of the first')
    t:is(box.space.mts_messages:get({ 'dd', 3 }).headers['msg-id'], 'z', 'the msg-id stays on the stored message')
    t:is(mts_commit({ with_headers('dd', 'e', { ['msg-id'] = '' }), with_headers('dd', 'f', { ['msg-id'] = '' }) }).first[1], '5',
        'an empty msg-id deduplicates nothing')
end)

test:test('msg-id: outside the window it is a new message, and expired entries are removed', function(t)
    t:plan(4)
    t:is(mts_commit({ with_headers('win', 'a', { ['msg-id'] = 'x' }) }, 1).first[1], '1', 'first')
    local deadline = fiber.clock() + 5
    while box.space.mts_msg_ids:get({ 'win', 'x' }).expires_ms >= math.floor(fiber.time() * 1000) and fiber.clock() < deadline do
        fiber.sleep(0.001)
    end
    local r = mts_commit({ with_headers('win', 'b', { ['msg-id'] = 'x' }) }, 1)
    t:is(r.first[1], '2', 'a new message once the window passed')
    t:is_deeply(r.duplicates, {}, 'not a duplicate')
    while box.space.mts_msg_ids:get({ 'win', 'x' }).expires_ms >= math.floor(fiber.time() * 1000) and fiber.clock() < deadline do
        fiber.sleep(0.001)
    end
    mts_commit({ with_headers('win', 'c', {}) })
    t:is(box.space.mts_msg_ids:get({ 'win', 'x' }), nil, 'a later commit removed the expired entry')
end)

test:test('expected-last-sequence refuses the whole batch when the subject moved on', function(t)
    t:plan(6)
    t:is(mts_commit({ with_headers('occ', 'a', { ['expected-last-sequence'] = '0' }) }).first[1], '1', 'accepted at 0')
    local r = mts_commit({ with_headers('occ', 'b', {}), with_headers('occ', 'c', { ['expected-last-sequence'] = '1' }) })
    t:is(r.code, 'WRONG_LAST_SEQUENCE', 'the earlier row of the batch moved the subject')
    t:is(r.index, 1, 'names the refused row, 0-based')
    t:is(r.last, '2', 'and the actual last sequence at that point')
    t:is(mts_last_sequence('occ').last, '1', 'nothing committed')
    r = mts_commit({ with_headers('occ', 'b', {}), with_headers('occ', 'c', { ['expected-last-sequence'] = '2' }) })
    t:is_deeply(r.first, { '2' }, 'accepted when it matches')
end)

-- Last: its max_age policy expires the old timestamps every earlier test wrote.
test:test('expiry deletes exactly what each limit exceeds, objects queued', function(t)
    t:plan(11)
    local now = math.floor(fiber.time() * 1000)
    local function aged(subject, text, age_ms)
        local m = msg(subject, text)
        m.timestamp_ms = now - age_ms
        return m
    end
    mts_add_pending_upload('exp-object', '1')
    mts_commit({ aged('exp.age', 'a', 60000), object('exp.age', 'exp-object', 7), aged('exp.age', 'c', 0) })
    box.space.mts_messages:update({ 'exp.age', 2 }, { { '=', 'timestamp_ms', now - 60000 } })
    mts_commit({ aged('exp.count', '1', 0), aged('exp.count', '2', 0), aged('exp.count', '3', 0) })
    mts_commit({ aged('exp.bytes', '1234', 0), aged('exp.bytes', '12', 0), aged('exp.bytes', '34', 0) })

    mts_set_retention('>', '30000', '0', '0')
    app.expire_all()
    t:is(mts_subject_info('exp.age').subject.first_sequence, '3', 'max_age deletes the two old messages')
    t:ok(box.space.mts_deleted_objects:get('exp-object') ~= nil, 'and queues the object of one')
    t:is(mts_subject_info('exp.count').subject.messages, '3', 'max_age leaves young subjects alone')

    mts_set_retention('>', '0', '2', '0')
    app.expire_all()
    t:is(mts_subject_info('exp.count').subject.first_sequence, '2', 'max_messages keeps the newest two')
    t:is(mts_subject_info('exp.count').subject.messages, '2', 'count follows')

    mts_set_retention('>', '0', '0', '4')
    app.expire_all()
    local bytes = mts_subject_info('exp.bytes').subject
    t:is(bytes.first_sequence, '2', 'max_bytes deletes the oldest until the rest fit')
    t:is(bytes.bytes, '4', 'bytes follow')
    t:is(mts_commit({ aged('exp.bytes', '5', 0) }).sequences[1], '4', 'sequences go on after expiry')

    mts_set_retention('>', '0', '0', '0')
    app.expire_all()
    t:is(mts_subject_info('exp.bytes').subject.messages, '3', 'no limits delete nothing')
    local stats = mts_storage_stats()
    t:ok(tonumber(stats.expired) >= 5, 'expired messages are counted')
    t:ok(tonumber(stats.purged) >= 4, 'and purged ones apart')
end)

test:test('policies by pattern: the most specific wins, discard new refuses naming the limit', function(t)
    t:plan(9)
    mts_set_retention('>', '0', '0', '0')
    mts_set_retention('pol.>', '0', '1', '0', '0', 'old')
    mts_set_retention('pol.*.eu', '0', '2', '0', '0', 'new')
    mts_set_retention('pol.big', '0', '0', '0', '4', 'old')
    t:is(mts_retention_of('pol.fr.eu').policy.pattern, 'pol.*.eu', 'a literal token beats >')
    t:is(mts_retention_of('pol.fr').policy.pattern, 'pol.>', '> matches the rest')
    t:is(mts_retention_of('elsewhere').policy.pattern, '>', 'the default covers other subjects')
    local function row(subject, text)
        return { subject, math.floor(fiber.time() * 1000), {}, #text, text, '' }
    end
    t:ok(mts_commit({ row('pol.fr.eu', 'a'), row('pol.fr.eu', 'b') }).ok, 'up to max_messages')
    local refused = mts_commit({ row('pol.other', 'x'), row('pol.fr.eu', 'c') })
    t:is_deeply({ refused.code, refused.limit, refused.value, refused.pattern, refused.index },
        { 'LIMIT_EXCEEDED', 'max_messages', '2', 'pol.*.eu', 2 }, 'the refusal names the limit and the record')
    t:is(mts_last_sequence('pol.other').last, '0', 'nothing of the batch committed')
    t:is(mts_commit({ row('pol.big', '12345') }).limit, 'max_message_bytes', 'too large a message is refused')
    t:is(mts_delete_retention('pol.*.eu').deleted, true, 'a policy is deleted')
    t:is(mts_retention_of('pol.fr.eu').policy.pattern, 'pol.>', 'and the next most specific applies')
end)

test:test('interest retention deletes what every consumer acknowledged, and not before', function(t)
    t:plan(4)
    mts_set_retention('int.>', '0', '0', '0', '0', 'old', 'interest')
    local now = math.floor(fiber.time() * 1000)
    mts_commit({ { 'int.a', now, {}, 1, 'a', '' }, { 'int.a', now, {}, 1, 'b', '' }, { 'int.a', now, {}, 1, 'c', '' } })
    app.expire_all()
    t:is(mts_subject_info('int.a').subject.messages, '3', 'nothing goes before a consumer exists')
    mts_ack('one', 'int.a', '2')
    mts_ack('two', 'int.a', '1')
    app.expire_all()
    t:is(mts_subject_info('int.a').subject.first_sequence, '2', 'only what both acknowledged goes')
    mts_ack('two', 'int.a', '3')
    app.expire_all()
    t:is(mts_subject_info('int.a').subject.first_sequence, '3', 'the slowest consumer decides')
    t:is(mts_retention_of('int.a').policy.retention, 'interest', 'the policy says interest')
end)

os.exit(test:check() and 0 or 1)
