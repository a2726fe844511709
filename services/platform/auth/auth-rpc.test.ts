import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { base64url, SignJWT } from 'jose';
import { Health, HealthCheckResponse_ServingStatus } from '../../../gen/grpc/health/v1/health_pb.js';
import { capturedLogger } from '../../testing/captured-logger.js';
import { bufCurl } from '../../testing/buf-curl.js';
import {
  egressClient,
  ingressClient,
  startTestServices,
  transportFor,
  type Protocol,
  type TestServices,
} from '../../testing/test-services.js';
import { createTestKeys } from '../../testing/test-tokens.js';
import { AUTH_FAILURES } from '../metrics.js';

type Rpc = 'Publish' | 'Subscribe' | 'Fetch' | 'GetLastSequence' | 'AckMessage';
const rpcs: Rpc[] = ['Publish', 'Subscribe', 'Fetch', 'GetLastSequence', 'AckMessage'];
const protocols: Protocol[] = ['grpc', 'grpcweb', 'connect'];

/** Runs one RPC with `authorization` (if any); resolves to the code, 'ok' on success. */
async function call(
  services: TestServices,
  protocol: Protocol,
  rpc: Rpc,
  authorization: string | undefined,
  subject = 'allowed.x',
  durableName = 'd',
): Promise<Code | 'ok'> {
  const headers = authorization === undefined ? {} : { authorization };
  const ingress = ingressClient(services, protocol);
  const egress = egressClient(services, protocol);
  try {
    switch (rpc) {
      case 'Publish':
        await ingress.publish({ subject, data: new Uint8Array([1]) }, { headers });
        break;
      case 'Subscribe': {
        const controller = new AbortController();
        // A stored message makes the stream answer at once; one notification is enough.
        for await (const _ of egress.subscribe({ subject, startSequence: 1n, durableName }, { headers, signal: controller.signal })) break;
        controller.abort();
        break;
      }
      case 'Fetch':
        for await (const _ of egress.fetch({ subject, durableName, batchSize: 1 }, { headers }));
        break;
      case 'GetLastSequence':
        await egress.getLastSequence({ subject }, { headers });
        break;
      case 'AckMessage':
        await egress.ackMessage({ subject, durableName, sequence: 1n }, { headers });
        break;
    }
    return 'ok';
  } catch (error) {
    return ConnectError.from(error).code;
  }
}

test('required mode: every RPC over every protocol authenticates, authorizes, and logs no secret', async (t) => {
  const keys = createTestKeys(t);
  const { logger, lines: logLines } = capturedLogger('debug');
  const services = await startTestServices(t, { env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile }, logger });
  await services.store.publish([{ subject: 'allowed.x', data: new Uint8Array([1]), headers: {} }]);

  const now = Math.floor(Date.now() / 1000);
  const claims = { client_id: 'client-a', allowed_subjects: ['*'], permissions: ['*'], iss: 'minitoolstream', iat: now, exp: now + 3600 };
  const valid = await keys.token();
  const [header, payload] = valid.split('.');
  const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(keys.rsaPublicPem));
  const unauthenticated: Record<string, string | undefined> = {
    'no token': undefined,
    'not bearer': `Basic ${valid}`,
    'not a JWT': 'Bearer abc.def',
    expired: `Bearer ${await keys.sign(keys.rsa, { ...claims, iat: now - 7200, exp: now - 3600 })}`,
    'not yet valid': `Bearer ${await keys.sign(keys.rsa, { ...claims, nbf: now + 3600 })}`,
    'no exp': `Bearer ${await keys.sign(keys.rsa, { ...claims, exp: undefined })}`,
    'wrong issuer': `Bearer ${await keys.token({ issuer: 'someone-else' })}`,
    'bad signature': `Bearer ${header}.${payload}.${base64url.encode(new Uint8Array(256).fill(7))}`,
    'alg none': `Bearer ${base64url.encode('{"alg":"none","typ":"JWT"}')}.${payload}.`,
    'HS256 with the public key': `Bearer ${hs256}`,
    'another key': `Bearer ${await keys.sign(keys.foreign, claims)}`,
    'no client_id': `Bearer ${await keys.sign(keys.rsa, { ...claims, client_id: undefined })}`,
  };
  const denied: Record<string, string> = {
    'no permission': `Bearer ${await keys.token({ permissions: [] })}`,
    'other subject': `Bearer ${await keys.token({ subjects: ['other.*'] })}`,
    'permission for another RPC': `Bearer ${await keys.token({ permissions: ['nothing-useful'] })}`,
  };
  const accepted: Record<string, string> = {
    'RSA token': `Bearer ${valid}`,
    'EC token (second key of the file)': `Bearer ${await keys.token({ privateKey: keys.ec })}`,
    'lower-case bearer': `bearer ${valid}`,
  };

  for (const protocol of protocols) {
    for (const rpc of rpcs) {
      await t.test(`${rpc} over ${protocol}`, async () => {
        for (const [name, authorization] of Object.entries(unauthenticated)) {
          assert.equal(await call(services, protocol, rpc, authorization), Code.Unauthenticated, name);
        }
        for (const [name, authorization] of Object.entries(denied)) {
          assert.equal(await call(services, protocol, rpc, authorization), Code.PermissionDenied, name);
        }
        for (const [name, authorization] of Object.entries(accepted)) {
          assert.equal(await call(services, protocol, rpc, authorization), 'ok', name);
        }
      });
    }
  }

  await t.test('failures are counted by reason', async () => {
    const metrics = (await services.egress.app.inject({ url: '/metrics' })).body;
    for (const reason of [
      'missing',
      'malformed',
      'expired',
      'bad_signature',
      'wrong_issuer',
      'bad_algorithm',
      'permission_denied',
      'invalid_claims',
    ]) {
      const count = new RegExp(`^${AUTH_FAILURES}\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(metrics)?.[1];
      assert.ok(Number(count) > 0, `${reason} counted`);
    }
  });

  await t.test('probes, metrics, health and reflection stay open', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics']) {
      assert.equal((await services.ingress.app.inject({ url })).statusCode, 200, url);
    }
    // No token on either call.
    const health = await createClient(Health, transportFor(services.ingress.url)).check({ service: '' });
    assert.equal(health.status, HealthCheckResponse_ServingStatus.SERVING);
    const listed = await bufCurl(['--protocol', 'grpc', '--http2-prior-knowledge', '--list-services', services.ingress.url]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^minitoolstream\.IngressService$/m);
  });

  await t.test('no token or key material reaches the logs', () => {
    const logs = logLines.join('');
    assert.match(logs, /rpc rejected/, 'the logs were captured at debug level');
    const secrets = [valid, ...Object.values({ ...unauthenticated, ...denied, ...accepted }).filter((v) => v !== undefined)]
      .flatMap((value) => value!.replace(/^\w+ /, '').split('.'))
      .filter((part) => part.length > 16);
    for (const secret of secrets) assert.ok(!logs.includes(secret), 'a token part appears in the logs');
    assert.doesNotMatch(logs, /BEGIN|PRIVATE KEY/);
  });
});

test('allowed_subjects patterns: "allowed.*" covers allowed and below only', async (t) => {
  const keys = createTestKeys(t);
  const services = await startTestServices(t, { env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile } });
  const authorization = `Bearer ${await keys.token({ subjects: ['allowed.*'], permissions: ['publish'] })}`;
  for (const subject of ['allowed', 'allowed.x', 'allowed.x.y']) {
    assert.equal(await call(services, 'grpc', 'Publish', authorization, subject), 'ok', subject);
  }
  for (const subject of ['allowedx', 'other', 'other.allowed']) {
    assert.equal(await call(services, 'grpc', 'Publish', authorization, subject), Code.PermissionDenied, subject);
  }
  const everything = `Bearer ${await keys.token({ subjects: [], permissions: ['publish'] })}`;
  assert.equal(await call(services, 'grpc', 'Publish', everything, 'any.subject'), 'ok', 'an empty allowed_subjects allows every subject');
});

test('permissions: publish, subscribe and fetch each open their own RPCs', async (t) => {
  const keys = createTestKeys(t);
  const services = await startTestServices(t, { env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile } });
  await services.store.publish([{ subject: 'allowed.x', data: new Uint8Array([1]), headers: {} }]);
  const expected: Record<string, Record<Rpc, 'ok' | Code>> = {
    publish: {
      Publish: 'ok',
      Subscribe: Code.PermissionDenied,
      Fetch: Code.PermissionDenied,
      GetLastSequence: Code.PermissionDenied,
      AckMessage: Code.PermissionDenied,
    },
    subscribe: { Publish: Code.PermissionDenied, Subscribe: 'ok', Fetch: 'ok', GetLastSequence: 'ok', AckMessage: 'ok' },
    fetch: { Publish: Code.PermissionDenied, Subscribe: Code.PermissionDenied, Fetch: 'ok', GetLastSequence: 'ok', AckMessage: 'ok' },
  };
  for (const [permission, outcomes] of Object.entries(expected)) {
    const authorization = `Bearer ${await keys.token({ permissions: [permission] })}`;
    for (const rpc of rpcs)
      assert.equal(await call(services, 'connect', rpc, authorization, 'allowed.x'), outcomes[rpc], `${permission} → ${rpc}`);
  }
});

test("a client cannot fetch or ack another client's durable consumer", async (t) => {
  const keys = createTestKeys(t);
  const services = await startTestServices(t, { env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile } });
  const subject = 'shared.s';
  await services.store.publish([1, 2, 3].map((n) => ({ subject, data: new Uint8Array([n]), headers: {} })));
  const tokenOf = async (clientId: string) => `Bearer ${await keys.token({ clientId })}`;
  const [a, b] = [await tokenOf('client-a'), await tokenOf('client-b')];

  const egress = egressClient(services, 'grpc');
  await egress.ackMessage({ subject, durableName: 'd', sequence: 2n }, { headers: { authorization: a } });
  for (const protocol of protocols) {
    await t.test(protocol, async () => {
      for (const rpc of ['Fetch', 'AckMessage'] as const) {
        assert.equal(await call(services, protocol, rpc, b, subject, 'd'), Code.PermissionDenied, `${rpc} of client-a's durable`);
        assert.equal(await call(services, protocol, rpc, a, subject, 'd'), 'ok', `${rpc} by its owner`);
        assert.equal(await call(services, protocol, rpc, b, subject, `b-${protocol}`), 'ok', `${rpc} of client-b's own durable`);
      }
    });
  }
  // The refusals left client-a's consumer as it was; names are stored as sent.
  assert.equal(await services.store.ackFloor('d', subject), 2n);
  await assert.rejects(egress.ackMessage({ subject, durableName: 'd', sequence: 3n }, { headers: { authorization: b } }), {
    message: '[permission_denied] durable "d" on subject "shared.s" belongs to another client',
  });
  const metrics = (await services.egress.app.inject({ url: '/metrics' })).body;
  assert.match(metrics, new RegExp(`^${AUTH_FAILURES}\\{reason="permission_denied"\\} 7$`, 'm'));

  // Subscribe reads the durable's floor only without a start sequence, and only then claims it.
  const subscribe = async (authorization: string, startSequence?: bigint) => {
    const request = { subject, durableName: 'd', ...(startSequence === undefined ? {} : { startSequence }) };
    const controller = new AbortController();
    try {
      for await (const _ of egress.subscribe(request, { headers: { authorization }, signal: controller.signal })) break;
      controller.abort();
      return 'ok';
    } catch (failure) {
      return ConnectError.from(failure).code;
    }
  };
  assert.equal(await subscribe(b), Code.PermissionDenied);
  assert.equal(await subscribe(b, 1n), 'ok', 'a start sequence does not use the durable');
  assert.equal(await subscribe(a), 'ok');
});

test('optional mode: no token is anonymous, a bad token is still refused', async (t) => {
  const keys = createTestKeys(t);
  const services = await startTestServices(t, { env: { AUTH_MODE: 'optional', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile } });
  await services.store.publish([{ subject: 'allowed.x', data: new Uint8Array([1]), headers: {} }]);
  for (const rpc of rpcs) {
    assert.equal(await call(services, 'grpc', rpc, undefined), 'ok', `${rpc} anonymous`);
    assert.equal(
      await call(services, 'grpc', rpc, `Bearer ${await keys.sign(keys.foreign, { client_id: 'x' })}`),
      Code.Unauthenticated,
      `${rpc} bad token`,
    );
    assert.equal(
      await call(services, 'grpc', rpc, `Bearer ${await keys.token({ permissions: [] })}`),
      Code.PermissionDenied,
      `${rpc} no permission`,
    );
  }
  // Anonymous callers share the durables they use first; a client's stay its own, and the other way round.
  const client = `Bearer ${await keys.token()}`;
  assert.equal(await call(services, 'grpc', 'Fetch', client, 'allowed.x', 'owned'), 'ok');
  for (const rpc of ['Fetch', 'AckMessage'] as const) {
    assert.equal(await call(services, 'grpc', rpc, undefined, 'allowed.x', 'owned'), Code.PermissionDenied, `anonymous ${rpc}`);
    assert.equal(await call(services, 'grpc', rpc, client, 'allowed.x', 'd'), Code.PermissionDenied, `client ${rpc}`);
  }
});

test('inspection: listings show only the subjects a token may fetch; reset and purge need admin', async (t) => {
  const keys = createTestKeys(t);
  const services = await startTestServices(t, { env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile } });
  for (const subject of ['allowed.x', 'allowed.y', 'other.z']) {
    await services.store.publish([{ subject, data: new Uint8Array([1]), headers: {} }]);
    await services.store.ack('d', subject, 1n);
  }
  const headers = async (permissions: string[], subjects = ['allowed.*']) => ({
    authorization: `Bearer ${await keys.token({ subjects, permissions })}`,
  });
  for (const protocol of protocols) {
    const egress = egressClient(services, protocol);
    const fetcher = { headers: await headers(['fetch']) };
    const listed = await egress.listSubjects({}, fetcher);
    assert.deepEqual(
      listed.subjects.map((info) => info.subject),
      ['allowed.x', 'allowed.y'],
      `${protocol}: a token sees only its subjects`,
    );
    assert.deepEqual((await egress.listSubjects({ pattern: 'other.*' }, fetcher)).subjects, []);
    assert.deepEqual(
      (await egress.listConsumers({}, fetcher)).consumers.map((consumer) => consumer.subject),
      ['allowed.x', 'allowed.y'],
    );
    assert.equal((await egress.getSubjectInfo({ subject: 'allowed.x' }, fetcher)).messages, 1n);
    await assert.rejects(egress.getSubjectInfo({ subject: 'other.z' }, fetcher), { code: Code.PermissionDenied });
    await assert.rejects(egress.listConsumers({ subject: 'other.z' }, fetcher), { code: Code.PermissionDenied });
    await assert.rejects(egress.listSubjects({}, { headers: await headers(['publish']) }), { code: Code.PermissionDenied });

    const reset = { durableName: 'd', subject: 'allowed.x', sequence: 0n };
    await assert.rejects(egress.resetConsumer(reset, fetcher), { code: Code.PermissionDenied });
    await assert.rejects(egress.resetConsumer({ ...reset, subject: 'other.z' }, { headers: await headers(['admin']) }), {
      code: Code.PermissionDenied,
    });
    const moved = await egress.resetConsumer(reset, { headers: await headers(['admin']) });
    assert.deepEqual([moved.ackFloor, moved.pending], [0n, 1n]);
    await services.store.ack('d', 'allowed.x', 1n);

    await assert.rejects(egress.purge({ subject: 'allowed.y' }, fetcher), { code: Code.PermissionDenied });
    await assert.rejects(egress.purge({ subject: 'other.z' }, { headers: await headers(['admin']) }), { code: Code.PermissionDenied });
  }
  const purged = await egressClient(services, 'grpc').purge({ subject: 'allowed.y' }, { headers: await headers(['admin']) });
  assert.deepEqual([purged.purged, purged.firstSequence], [1n, 0n], 'an admin token purges its subjects');
  const egress = egressClient(services, 'grpc');
  await assert.rejects(egress.purge({ pattern: '>' }, { headers: await headers(['fetch']) }), { code: Code.PermissionDenied });
  const byPattern = await egress.purge({ pattern: '>' }, { headers: await headers(['admin']) });
  assert.deepEqual([byPattern.purged, byPattern.subjects], [1n, 2n], 'a pattern purges only the subjects the token allows');
  assert.equal((await services.store.subjectStats('other.z'))?.messages, 1n);
  assert.equal((await services.store.subjectStats('allowed.x'))?.messages, 0n);
});
