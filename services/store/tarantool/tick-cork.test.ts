import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { within } from '../../testing/within.js';
import { corkUntilTickEnds } from './tick-cork.js';

test('writes of one tick are held until it ends, then all arrive', async (t) => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(socket, 'connect');
  const [peer] = await accepted;
  t.after(() => {
    socket.destroy();
    peer.destroy();
    server.close();
  });
  let received = '';
  peer.on('data', (chunk: Buffer) => (received += chunk.toString()));

  await Promise.resolve().then(() => {
    corkUntilTickEnds(socket);
    socket.write('a');
  });
  // A later microtask of the same tick joins the held writes instead of corking again.
  corkUntilTickEnds(socket);
  socket.write('b');
  assert.equal(socket.writableCorked, 1, 'corked once for the tick');
  assert.equal(socket.writableLength, 2, 'both writes held');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(socket.writableCorked, 0, 'uncorked when the tick ended');
  await within(
    new Promise<void>((resolve) => {
      const check = () => (received === 'ab' ? resolve() : peer.once('data', check));
      check();
    }),
    10_000,
    'both writes arriving',
  );
});

test('a missing or closed socket is left alone', async () => {
  assert.doesNotThrow(() => corkUntilTickEnds(undefined));
  const socket = new net.Socket();
  socket.destroy();
  corkUntilTickEnds(socket);
  assert.equal(socket.writableCorked, 0);
});
