#!/usr/bin/env tarantool
-- Tests of the configured-consumer procedures of init.lua, run in-process as admin.
-- Usage: TARANTOOL_WORK_DIR=<empty temp dir> tarantool consumers.test.lua
-- (procedures.test.ts runs it that way under `npm test`). Time is passed in
-- explicitly, so no test waits for a lease to expire.

local tap = require('tap')
local fio = require('fio')
local json = require('json')

local here = fio.dirname(debug.getinfo(1, 'S').source:sub(2))
local app = dofile(fio.pathjoin(here, '..', 'init.lua'))

local now = 1700000000000

-- A configuration as encodeConsumerConfig writes it, with `changes` applied.
local function config(durable, changes)
    local c = {
        durable = durable, filterSubjects = { 'orders.>' }, ackPolicy = 'explicit', ackWaitMs = 1000, maxDeliver = 0,
        backoffMs = setmetatable({}, { __serialize = 'seq' }), maxAckPending = 1000, deliver = { kind = 'all' },
        deadLetterSubject = '',
    }
    for name, value in pairs(changes or {}) do
        c[name] = value
    end
    return json.encode(c)
end

local function row(subject, text, headers)
    return { subject, now, headers or {}, #text, text, '' }
end

local function publish(subject, count)
    local rows = {}
    for i = 1, count do
        rows[i] = row(subject, 'm' .. i)
    end
    return mts_commit(rows)
end

-- A consumer `durable` configured with `changes`, on `subject` holding `count` new messages from the start.
local function consumer_on(durable, subject, count, changes)
    mts_create_consumer(durable, config(durable, changes), now)
    publish(subject, count)
    mts_start_consumer_subjects(durable, { { subject, '0' } })
end

local function sequences(lease)
    local list = {}
    for i, r in ipairs(lease.rows) do
        list[i] = r.subject .. ':' .. r.sequence .. '#' .. r.deliveries
    end
    return list
end

local function settlement(subject, sequence, kind, extra)
    local s = { subject = subject, sequence = tostring(sequence), kind = kind, delay_ms = 0, delivery_count = box.NULL }
    for name, value in pairs(extra or {}) do
        s[name] = value
    end
    return s
end

local function position(durable, subject)
    local p = box.space.mts_consumer_positions:get({ durable, subject })
    return p and { tonumber(p.ack_floor), tonumber(p.delivered) }
end

local test = tap.test('mts consumer procedures')
test:plan(14)

test:test('create is idempotent, a different config conflicts naming the fields', function(t)
    t:plan(12)
    local created = mts_create_consumer('workers', config('workers'), now)
    t:ok(created.ok, 'created')
    t:is(created.record.created_ms, tostring(now), 'creation time kept')
    local again = mts_create_consumer('workers', config('workers'), now + 5)
    t:is_deeply(again.record, created.record, 'the same config answers the stored record unchanged')
    local conflict = mts_create_consumer('workers', config('workers', { ackWaitMs = 2000, maxDeliver = 3 }), now)
    t:is(conflict.code, 'CONSUMER_CONFLICT', 'a different config conflicts')
    t:is_deeply(conflict.fields, { 'ackWaitMs', 'maxDeliver' }, 'and names what differs')
    local updated = mts_update_consumer('workers', config('workers', { ackWaitMs = 2000 }))
    t:is(json.decode(updated.record.config).ackWaitMs, 2000, 'update replaces the config')
    t:is(updated.record.created_ms, tostring(now), 'and keeps the creation time')
    local refused = mts_update_consumer('workers', config('workers', { ackPolicy = 'all', deliver = { kind = 'new' } }))
    t:is_deeply(refused.fields, { 'ackPolicy', 'deliver' }, 'ack policy and deliver policy cannot change')
    t:is(mts_update_consumer('nobody', config('nobody')).code, 'CONSUMER_NOT_FOUND', 'update of an unknown consumer')
    mts_create_consumer('another', config('another'), now)
    local names = {}
    for _, record in ipairs(mts_list_consumer_records().records) do
        names[#names + 1] = json.decode(record.config).durable
    end
    t:is_deeply(names, { 'another', 'workers' }, 'listed by name')
    t:is(mts_consumer_record('nobody').record, nil, 'an unknown consumer has no record')
    t:is(mts_start_consumer_subjects('nobody', { { 'a', '0' } }).code, 'CONSUMER_NOT_FOUND', 'start needs a configured consumer')
end)

test:test('lease hands out new messages subject by subject within room and bytes', function(t)
    t:plan(12)
    mts_create_consumer('lease', config('lease', { maxAckPending = 4 }), now)
    publish('orders.a', 3)
    publish('orders.b', 3)
    mts_start_consumer_subjects('lease', { { 'orders.a', '1' }, { 'orders.b', '0' } })
    mts_start_consumer_subjects('lease', { { 'orders.a', '0' } })
    t:is_deeply(position('lease', 'orders.a'), { 1, 1 }, 'a position starts after start_after and never moves back')
    local first = mts_lease('lease', { 'orders.a', 'orders.unknown', 'orders.b' }, 3, 1000, now)
    t:is_deeply(sequences(first), { 'orders.a:2#1', 'orders.a:3#1', 'orders.b:1#1' }, 'in the order given, subjects without position skipped')
    t:is(first.rows[1].data, 'bTI=', 'payload as base64')
    t:is(first.next_expiry_ms, tostring(now + 1000), 'next expiry is the ack wait away')
    t:is_deeply(position('lease', 'orders.a'), { 1, 3 }, 'delivered moved, the floor waits for acks')
    local second = mts_lease('lease', { 'orders.a', 'orders.b' }, 10, 1000, now)
    t:is_deeply(sequences(second), { 'orders.b:2#1' }, 'maxAckPending bounds the leases held')
    t:is(#mts_lease('lease', { 'orders.b' }, 10, 1000, now).rows, 0, 'nothing while the room is used')
    mts_settle('lease', { settlement('orders.a', 2, 'ack') }, now)
    local bytes = mts_lease('lease', { 'orders.b' }, 10, 1, now)
    t:is_deeply(sequences(bytes), { 'orders.b:3#1' }, 'an ack frees room; the first message always fits the bytes')
    publish('orders.c', 2)
    mts_create_consumer('bytes', config('bytes'), now)
    mts_start_consumer_subjects('bytes', { { 'orders.c', '0' } })
    t:is(#mts_lease('bytes', { 'orders.c' }, 10, 3, now).rows, 1, 'a second message past the byte limit waits')
    t:is(mts_lease('nobody', { 'orders.a' }, 1, 1, now).code, 'CONSUMER_NOT_FOUND', 'lease needs a configured consumer')
    local stats = mts_consumer_stats('lease').stats
    t:is(stats.delivered, '5', 'deliveries counted')
    t:is(stats.ack_pending, 4, 'leases held counted')
end)

test:test('expired leases are redelivered first, oldest first, with backoff', function(t)
    t:plan(8)
    consumer_on('redeliver', 'orders.r', 3, { backoffMs = { 100, 500 } })
    t:is_deeply(sequences(mts_lease('redeliver', { 'orders.r' }, 2, 1000, now)), { 'orders.r:1#1', 'orders.r:2#1' }, 'first delivery')
    mts_settle('redeliver', { settlement('orders.r', 1, 'nak', { delay_ms = 50 }) }, now)
    local again = mts_lease('redeliver', { 'orders.r' }, 10, 1000, now + 100)
    t:is_deeply(sequences(again), { 'orders.r:1#2', 'orders.r:2#2', 'orders.r:3#1' }, 'redeliveries by expiry, then new messages')
    local lease = box.space.mts_leases:get({ 'redeliver', 'orders.r', 1 })
    t:is(lease.lease_until_ms, now + 100 + 500, 'the second delivery lasts the second backoff')
    t:is(again.next_expiry_ms, tostring(now + 100 + 100), 'next expiry: the new message on its first backoff')
    local third = mts_lease('redeliver', { 'orders.r' }, 10, 1000, now + 600)
    t:is_deeply(sequences(third), { 'orders.r:3#2', 'orders.r:1#3', 'orders.r:2#3' }, 'oldest lease_until first')
    t:is(box.space.mts_leases:get({ 'redeliver', 'orders.r', 1 }).lease_until_ms, now + 600 + 500, 'backoff clamps to its last entry')
    t:is(mts_consumer_stats('redeliver').stats.redelivered, 3, 'redelivered leases counted')
    t:is(#mts_lease('redeliver', { 'orders.other' }, 10, 1000, now + 5000).rows, 0, 'an expired lease goes only to a call naming its subject')
end)

test:test('settle: explicit ack, floors, progress, stale and not_pending', function(t)
    t:plan(11)
    consumer_on('settle', 'orders.s', 4)
    mts_lease('settle', { 'orders.s' }, 3, 1000, now)
    local outcomes = mts_settle('settle', { settlement('orders.s', 2, 'ack'), settlement('orders.s', 2, 'ack'), settlement('orders.s', 4, 'ack') }, now)
    t:is_deeply(outcomes.outcomes, { 'applied', 'not_pending', 'not_pending' }, 'ack once; again or undelivered: not pending')
    t:is_deeply(position('settle', 'orders.s'), { 0, 3 }, 'the floor waits for the lowest lease')
    mts_settle('settle', { settlement('orders.s', 1, 'ack') }, now)
    t:is_deeply(position('settle', 'orders.s'), { 2, 3 }, 'and rises past every settled sequence')
    t:is_deeply(mts_settle('settle', { settlement('orders.s', 3, 'progress', { delivery_count = 2 }) }, now).outcomes, { 'stale' },
        'another delivery named: stale')
    t:is_deeply(mts_settle('settle', { settlement('orders.s', 3, 'progress', { delivery_count = 1 }) }, now + 900).outcomes, { 'applied' },
        'progress of the current delivery')
    t:is(box.space.mts_leases:get({ 'settle', 'orders.s', 3 }).lease_until_ms, now + 900 + 1000, 'progress restarts the lease')
    t:is_deeply(mts_settle('settle', { settlement('orders.s', 3, 'ack', { delivery_count = 5 }) }, now).outcomes, { 'applied' },
        'a late ack still counts')
    t:is_deeply(position('settle', 'orders.s'), { 3, 3 }, 'everything delivered is settled')
    t:is(mts_settle('nobody', {}, now).code, 'CONSUMER_NOT_FOUND', 'settle needs a configured consumer')
    local feed_cursor = mts_wait_for_changes('', 0, 10).cursor
    mts_lease('settle', { 'orders.s' }, 1, 1000, now)
    mts_settle('settle', { settlement('orders.s', 4, 'ack') }, now)
    t:is_deeply(mts_wait_for_changes(feed_cursor, 0, 10).changes, { { consumer = 'settle', subject = '', last = '0' } },
        'a settle is a consumer change, which older readers take for a commit of no subject')
    t:is_deeply(mts_consumer_stats('settle').stats.positions,
        { { subject = 'orders.s', ack_floor = '4', delivered = '4', last_sequence = '4' } }, 'stats list the position')
end)

test:test('ack policy all settles every lease up to the sequence', function(t)
    t:plan(4)
    consumer_on('cumulative', 'orders.all', 4, { ackPolicy = 'all' })
    mts_lease('cumulative', { 'orders.all' }, 4, 1000, now)
    t:is_deeply(mts_settle('cumulative', { settlement('orders.all', 3, 'ack') }, now).outcomes, { 'applied' }, 'cumulative ack')
    t:is_deeply(position('cumulative', 'orders.all'), { 3, 4 }, 'the floor is at the acked sequence')
    t:is(box.space.mts_leases:get({ 'cumulative', 'orders.all', 4 }) ~= nil, true, 'later leases stay')
    t:is_deeply(mts_settle('cumulative', { settlement('orders.all', 3, 'ack') }, now).outcomes, { 'not_pending' }, 'nothing left below it')
end)

test:test('max_deliver and term dead-letter in the same transaction, payload shared', function(t)
    t:plan(16)
    mts_create_consumer('poison', config('poison', { maxDeliver = 2, deadLetterSubject = 'dlq.poison' }), now)
    mts_add_pending_upload('big-object', '1')
    mts_commit({ { 'orders.p', now, { ['msg-id'] = 'once', ['expected-last-sequence'] = '0', trace = 'abc' }, 5000, box.NULL, 'big-object' },
        row('orders.p', 'two') })
    mts_start_consumer_subjects('poison', { { 'orders.p', '0' } })
    mts_lease('poison', { 'orders.p' }, 2, 10000, now)
    t:is_deeply(mts_settle('poison', { settlement('orders.p', 2, 'term', { delivery_count = 2 }) }, now).outcomes, { 'stale' },
        'term of another delivery is stale')
    local cursor = mts_wait_for_changes('', 0, 10).cursor
    t:is_deeply(mts_settle('poison', { settlement('orders.p', 2, 'term', { delivery_count = 1 }) }, now).outcomes, { 'applied' }, 'term')
    t:is(mts_last_sequence('dlq.poison').last, '1', 'term dead-letters at once')
    local changes = mts_wait_for_changes(cursor, 0, 10).changes
    t:is_deeply(changes, { { subject = 'dlq.poison', first = '1', last = '1' }, { consumer = 'poison', subject = '', last = '0' } }, 'a commit change and a consumer change')
    t:is(#mts_lease('poison', { 'orders.p' }, 10, 10000, now + 1000).rows, 1, 'the object message is redelivered once')
    local dead = mts_lease('poison', { 'orders.p' }, 10, 10000, now + 2000)
    t:is(#dead.rows, 0, 'past max_deliver it is not delivered again')
    t:is(dead.dead_lettered, 1, 'but dead-lettered')
    local letter = box.space.mts_messages:get({ 'dlq.poison', 2 })
    t:is_deeply({ letter.headers['minitoolstream-dead-letter-subject'], letter.headers['minitoolstream-dead-letter-sequence'],
        letter.headers['minitoolstream-dead-letter-consumer'], letter.headers['minitoolstream-dead-letter-reason'],
        letter.headers['minitoolstream-delivery-count'], letter.headers.trace },
        { 'orders.p', '1', 'poison', 'max_deliver', '2', 'abc' }, 'with where it came from and the original headers')
    t:is(letter.object_key, 'big-object', 'the object is shared by key, not copied')
    t:is(letter.timestamp_ms, now + 2000, 'committed now')
    t:is(box.space.mts_messages:get({ 'dlq.poison', 1 }).data, 'two', 'an inline payload is copied')
    t:is_deeply(position('poison', 'orders.p'), { 2, 2 }, 'dead letters leave the pending set')
    t:is(mts_consumer_stats('poison').stats.dead_lettered, '2', 'counted')
    mts_delete_through('orders.p', '2')
    t:is(box.space.mts_deleted_objects:get('big-object'), nil, 'deleting the original keeps the object the dead letter names')
    mts_delete_through('dlq.poison', '2')
    t:ok(box.space.mts_deleted_objects:get('big-object') ~= nil, 'deleting the last message that names it queues it')
    mts_forget_deleted_objects({ 'big-object' })
    consumer_on('dropper', 'orders.d', 1)
    mts_lease('dropper', { 'orders.d' }, 1, 100, now)
    mts_settle('dropper', { settlement('orders.d', 1, 'term') }, now)
    t:is(mts_consumer_stats('dropper').stats.dead_lettered, '1', 'without a dead-letter subject it is settled and counted')
end)

test:test('redrive moves dead letters back to their subject', function(t)
    t:plan(10)
    mts_create_consumer('back', config('back', { deadLetterSubject = 'dlq.back' }), now)
    mts_add_pending_upload('shared-object', '1')
    mts_commit({ { 'orders.back', now, { trace = 'x' }, 9000, box.NULL, 'shared-object' }, row('orders.back', 'two'), row('orders.back', 'three') })
    mts_start_consumer_subjects('back', { { 'orders.back', '0' } })
    mts_lease('back', { 'orders.back' }, 3, 100000, now)
    mts_settle('back', { settlement('orders.back', 1, 'term'), settlement('orders.back', 2, 'term') }, now)
    mts_commit({ row('dlq.back', 'not a dead letter') })
    mts_settle('back', { settlement('orders.back', 3, 'term') }, now)
    mts_delete_through('orders.back', '3')
    local first = mts_redrive('dlq.back', '0', '0', 1)
    t:is_deeply({ first.moved, first.last_examined }, { 1, '1' }, 'at most limit per call')
    local moved = box.space.mts_messages:get({ 'orders.back', 4 })
    t:is(moved.object_key, 'shared-object', 'the payload is shared')
    t:is_deeply(moved.headers, { trace = 'x' }, 'with the original headers only')
    t:is(box.space.mts_deleted_objects:get('shared-object'), nil, 'the object stays: the redriven message names it')
    t:is(box.space.mts_messages:get({ 'dlq.back', 1 }), nil, 'the dead letter is deleted')
    local rest = mts_redrive('dlq.back', '2', '3', 10)
    t:is_deeply({ rest.moved, rest.last_examined }, { 1, '3' }, 'a message without the header is skipped; `to` bounds')
    t:is(mts_last_sequence('orders.back').last, '5', 'new sequences on the original subject')
    t:is(box.space.mts_messages:get({ 'orders.back', 5 }).data, 'two', 'in order')
    t:is_deeply({ mts_redrive('dlq.back', '0', '0', 10).moved, mts_redrive('dlq.back', '0', '0', 10).moved }, { 1, 0 }, 'until none moves')
    t:is(mts_subject_info('dlq.back').subject.messages, '1', 'the subject counters follow')
end)

test:test('an object named by several messages goes with the last of them', function(t)
    t:plan(5)
    mts_create_consumer('shares', config('shares', { deadLetterSubject = 'dlq.shares' }), now)
    mts_add_pending_upload('three-ways', '1')
    mts_commit({ { 'orders.shares', now, {}, 9000, box.NULL, 'three-ways' } })
    mts_start_consumer_subjects('shares', { { 'orders.shares', '0' } })
    mts_lease('shares', { 'orders.shares' }, 1, 100000, now)
    mts_settle('shares', { settlement('orders.shares', 1, 'term') }, now)
    mts_redrive('dlq.shares', '0', '0', 10)
    t:is(box.space.mts_shared_objects:get('three-ways').refs, 2, 'the original and its redriven copy name it')
    mts_delete_through('orders.shares', '1')
    t:is(box.space.mts_deleted_objects:get('three-ways'), nil, 'the redriven copy still names it')
    t:is(box.space.mts_shared_objects:get('three-ways'), nil, 'and is the only one left')
    mts_delete_through('orders.shares', '2')
    t:ok(box.space.mts_deleted_objects:get('three-ways') ~= nil, 'the last one deleted queues it')
    t:is(box.space.mts_shared_objects:len(), 0, 'no reference count outlives its messages')
end)

test:test('a leased message deleted by retention is dropped when met', function(t)
    t:plan(3)
    consumer_on('gone', 'orders.g', 3)
    mts_lease('gone', { 'orders.g' }, 2, 1000, now)
    mts_delete_through('orders.g', '1')
    local after = mts_lease('gone', { 'orders.g' }, 10, 1000, now + 1000)
    t:is_deeply(sequences(after), { 'orders.g:2#2', 'orders.g:3#1' }, 'the deleted one is not delivered')
    t:is(box.space.mts_leases:get({ 'gone', 'orders.g', 1 }), nil, 'its lease is dropped')
    t:is_deeply(position('gone', 'orders.g'), { 1, 3 }, 'and the floor moves on')
end)

test:test('consumer stats: lag from the oldest unsettled message', function(t)
    t:plan(4)
    mts_create_consumer('lag', config('lag'), now)
    mts_commit({ { 'orders.lag', now - 5000, {}, 1, 'a', '' }, { 'orders.lag', now - 1000, {}, 1, 'b', '' } })
    mts_start_consumer_subjects('lag', { { 'orders.lag', '0' } })
    t:is(mts_consumer_stats('lag').stats.oldest_unacked_ms, tostring(now - 5000), 'undelivered messages are unsettled')
    mts_lease('lag', { 'orders.lag' }, 1, 10, now)
    mts_settle('lag', { settlement('orders.lag', 1, 'ack') }, now)
    t:is(mts_consumer_stats('lag').stats.oldest_unacked_ms, tostring(now - 1000), 'the next one after the floor')
    mts_lease('lag', { 'orders.lag' }, 1, 10, now)
    mts_settle('lag', { settlement('orders.lag', 2, 'ack') }, now)
    t:is(mts_consumer_stats('lag').stats.oldest_unacked_ms, nil, 'none when everything is settled')
    t:is(mts_consumer_stats('nobody').stats, nil, 'none for an unknown consumer')
end)

test:test('delete removes configuration, positions and leases', function(t)
    t:plan(5)
    consumer_on('doomed', 'orders.doomed', 2)
    mts_lease('doomed', { 'orders.doomed' }, 2, 1000, now)
    t:is(mts_delete_consumer('doomed').deleted, true, 'deleted')
    t:is(mts_consumer_record('doomed').record, nil, 'no record')
    t:is(box.space.mts_consumer_positions:get({ 'doomed', 'orders.doomed' }), nil, 'no position')
    t:is(box.space.mts_leases:select({ 'doomed' })[1], nil, 'no lease')
    t:is(mts_delete_consumer('doomed').deleted, false, 'a second delete finds nothing')
end)

test:test('interest retention waits for configured consumers too', function(t)
    t:plan(2)
    mts_set_retention('interest.>', '0', '0', '0', '0', 'old', 'interest')
    mts_create_consumer('interested', config('interested'), now)
    publish('interest.a', 3)
    mts_ack('legacy', 'interest.a', '3')
    mts_start_consumer_subjects('interested', { { 'interest.a', '0' } })
    mts_lease('interested', { 'interest.a' }, 1, 10, now)
    mts_settle('interested', { settlement('interest.a', 1, 'ack') }, now)
    app.expire_all()
    t:is(mts_subject_info('interest.a').subject.first_sequence, '2', 'only what the configured consumer settled goes')
    mts_delete_consumer('interested')
    app.expire_all()
    t:is(mts_subject_info('interest.a').subject.messages, '0', 'then what the legacy durable acknowledged')
end)

test:test('fetch from floor and ack unconfigured: one call each, a configured durable left alone', function(t)
    t:plan(9)
    publish('orders.legacy', 3)
    local r = mts_fetch_from_floor('plain', 'orders.legacy', 2)
    t:is(r.floor, '0', 'a new durable starts at 0')
    t:is_deeply({ r.rows[1].sequence, r.rows[2].sequence, r.rows[3] }, { '1', '2', nil }, 'at most the limit, after the floor')
    t:is(r.rows[1].data, 'bTE=', 'rows as mts_read_after answers them')
    t:is(mts_ack_unconfigured('plain', 'orders.legacy', '2').floor, '2', 'an ack moves the floor')
    r = mts_fetch_from_floor('plain', 'orders.legacy', 10)
    t:is_deeply({ r.floor, #r.rows, r.rows[1].sequence }, { '2', 1, '3' }, 'the next fetch starts after it')
    t:is(mts_ack_unconfigured('plain', 'orders.legacy', '9').code, 'ACK_BEYOND_END', 'past the end refused as mts_ack does')
    mts_create_consumer('shaped', config('shaped'), now)
    t:is(mts_fetch_from_floor('shaped', 'orders.legacy', 10).code, 'CONSUMER_CONFIGURED', 'a configured durable is not fetched')
    t:is(mts_ack_unconfigured('shaped', 'orders.legacy', '1').code, 'CONSUMER_CONFIGURED', 'nor acked')
    t:is(mts_ack_floor('shaped', 'orders.legacy').floor, '0', 'its legacy floor did not move')
end)

test:test('sequences above 2^53 stay exact', function(t)
    t:plan(3)
    local big = '9007199254740993'
    box.space.mts_subjects:replace({ 'orders.huge', tonumber64(big), 0, 0 })
    publish('orders.huge', 1)
    mts_create_consumer('huge', config('huge'), now)
    mts_start_consumer_subjects('huge', { { 'orders.huge', big } })
    local leased = mts_lease('huge', { 'orders.huge' }, 1, 10, now)
    t:is(leased.rows[1].sequence, '9007199254740994', 'leased exactly')
    t:is_deeply(mts_settle('huge', { settlement('orders.huge', '9007199254740994', 'ack') }, now).outcomes, { 'applied' }, 'settled exactly')
    t:is(mts_consumer_stats('huge').stats.positions[1].ack_floor, '9007199254740994', 'the floor exactly')
end)

os.exit(test:check() and 0 or 1)
