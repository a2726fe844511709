import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fastify } from 'fastify';
import { closeDeadlineSignal } from './close-deadline.js';

test('the deadline aborts a call still running when the app closes, then close completes', async (t) => {
  const app = fastify();
  const signal = closeDeadlineSignal(app, 100);
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  app.get('/hang', async () => {
    started();
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    return 'aborted';
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const answer = fetch(`http://127.0.0.1:${port}/hang`, { headers: { connection: 'close' } }).then((response) => response.text());
  await running;
  await app.close();
  assert.ok(signal.aborted);
  assert.equal(await answer, 'aborted');
});

test('an app that closes at once does not wait for the deadline', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const app = fastify();
  const signal = closeDeadlineSignal(app, 10_000);
  await app.ready();
  await app.close();
  t.mock.timers.tick(10_000);
  assert.equal(signal.aborted, false, 'the timer was cleared when the app closed');
});
