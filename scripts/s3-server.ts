/**
 * An S3-protocol server for local development (s3rver, a devDependency):
 * `tsx scripts/s3-server.ts --port 9000 --dir ./data/s3`. It accepts any
 * credentials and keeps objects in the folder; SIGINT or SIGTERM stop it.
 */
import { mkdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import S3rver from 's3rver';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '9000' },
    dir: { type: 'string' },
  },
});
if (values.dir === undefined || !/^\d+$/.test(values.port)) {
  process.stderr.write('usage: tsx scripts/s3-server.ts --dir FOLDER [--host 127.0.0.1] [--port 9000]\n');
  process.exit(2);
}
await mkdir(values.dir, { recursive: true });
const server = new S3rver({ address: values.host, port: Number(values.port), silent: true, directory: values.dir, resetOnClose: false });
const address = await server.run();
process.stdout.write(`s3rver listening on ${address.address}:${address.port}, objects in ${values.dir}\n`);

const stop = async () => {
  // A client that never lets go must not keep the server alive.
  setTimeout(() => process.exit(0), 2000).unref();
  const closing = server.close();
  server.httpServer?.closeAllConnections();
  await closing;
  process.exit(0);
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
