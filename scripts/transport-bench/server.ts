/**
 * A storage-free connect-node server for scripts/bench-transport.ts: cleartext HTTP/2 on a
 * loopback port, EgressService.GetLastSequence as a trivial unary call, EgressService.Fetch
 * as a server stream of `batchSize` 1 KiB messages, and IngressService.Publish answering every
 * message with sequence 1 (for the client workload). Everything it costs is the transport's.
 *
 * CONNECT_NODE_ENTRY names the connect-node module to load (default: the installed one), so the
 * bench can run an unpatched copy beside the patched install. The parent talks over IPC:
 * the server sends { port } once listening and answers 'cpu' with its process.cpuUsage().
 */
import http2 from 'node:http2';
import type * as ConnectNode from '@connectrpc/connect-node';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';

const entry = process.env.CONNECT_NODE_ENTRY ?? '@connectrpc/connect-node';
const { connectNodeAdapter } = (await import(entry)) as typeof ConnectNode;
const payload = new Uint8Array(1024).fill(120);

const handler = connectNodeAdapter({
  routes(router) {
    router.service(EgressService, {
      getLastSequence: (request) => ({ lastSequence: BigInt(request.subject.length) }),
      async *fetch(request) {
        for (let sequence = 1; sequence <= request.batchSize; sequence++) {
          yield { subject: request.subject, sequence: BigInt(sequence), data: payload };
        }
      },
    });
    router.service(IngressService, { publish: () => ({ sequence: 1n }) });
  },
});

const server = http2.createServer(handler);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port assigned');
  process.send!({ port: address.port });
});
process.on('message', (message) => {
  if (message === 'cpu') process.send!({ cpu: process.cpuUsage() });
  if (message === 'stop') process.exit(0);
});
// Exits with the parent, should the parent die without saying 'stop'.
process.on('disconnect', () => process.exit(0));
