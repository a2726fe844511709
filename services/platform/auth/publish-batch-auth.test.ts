import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import type { PublishStreamResponse } from '../../../gen/minitoolstream/ingress_pb.js';
import { ingressClient, startTestServices, type Protocol } from '../../testing/test-services.js';
import { createTestKeys } from '../../testing/test-tokens.js';

const protocols: Protocol[] = ['grpc', 'grpcweb', 'connect'];
const message = (subject: string) => ({ subject, data: new Uint8Array([1]) });

async function codeOf(call: Promise<unknown>): Promise<Code | 'ok'> {
  return call.then(
    () => 'ok' as const,
    (error: unknown) => ConnectError.from(error).code,
  );
}

for (const protocol of protocols) {
  test(`PublishBatch needs publish on every subject of the batch over ${protocol}`, async (t) => {
    const keys = createTestKeys(t);
    const services = await startTestServices(t, { env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile } });
    const ingress = ingressClient(services, protocol);
    const as = async (overrides: Parameters<typeof keys.token>[0]) => ({
      headers: { authorization: `Bearer ${await keys.token(overrides)}` },
    });
    const publisher = await as({ subjects: ['allowed.*'], permissions: ['publish'] });
    const batch = (subjects: string[]) => ({ messages: subjects.map(message) });

    assert.equal(await codeOf(ingress.publishBatch(batch(['allowed.a', 'allowed.b', 'allowed.a']), publisher)), 'ok');
    assert.equal(await codeOf(ingress.publishBatch(batch(['allowed.a', 'denied.x']), publisher)), Code.PermissionDenied);
    assert.equal(await codeOf(ingress.publishBatch(batch(['allowed.a']), await as({ permissions: ['subscribe'] }))), Code.PermissionDenied);
    assert.equal(await codeOf(ingress.publishBatch(batch(['allowed.a']))), Code.Unauthenticated);
    assert.equal(await services.store.lastSequence('allowed.a'), 2n);
  });
}

test('PublishStream: a request naming a subject the token does not allow ends the stream after the answers before it', async (t) => {
  const keys = createTestKeys(t);
  const services = await startTestServices(t, { env: { AUTH_MODE: 'required', JWT_PUBLIC_KEY_FILE: keys.publicKeyFile } });
  const headers = { authorization: `Bearer ${await keys.token({ subjects: ['allowed.*'], permissions: ['publish'] })}` };
  async function* requests() {
    yield { id: 1n, messages: [message('allowed.s')] };
    yield { id: 2n, messages: [message('allowed.s'), message('denied.s')] };
    yield { id: 3n, messages: [message('allowed.s')] };
  }
  const answered: PublishStreamResponse[] = [];
  const code = await codeOf(
    (async () => {
      for await (const response of ingressClient(services, 'grpc').publishStream(requests(), { headers })) answered.push(response);
    })(),
  );
  assert.equal(code, Code.PermissionDenied);
  assert.deepEqual(
    answered.map((response) => [response.id, response.results.map((result) => result.sequence)]),
    [[1n, [1n]]],
  );
  assert.equal(await services.store.lastSequence('allowed.s'), 1n);
});
