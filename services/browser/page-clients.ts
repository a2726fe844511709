/**
 * Runs in the browser: the generated clients over connect-web's Connect and
 * gRPC-Web transports, cross-origin, exactly as a dashboard would use them.
 * Bundled by the test with esbuild; results are returned to the test as JSON.
 */
import { Code, ConnectError, createClient, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-web';
import { EgressService } from '../../gen/minitoolstream/egress_pb.js';
import { IngressService } from '../../gen/minitoolstream/ingress_pb.js';

export interface ProtocolResult {
  sequence: string;
  notified: string;
  fetched: { sequence: string; text: string; contentType: string | undefined }[];
  /** Sequences a second Fetch returns after the Ack: none once the position moved. */
  fetchedAfterAck: string[];
  emptySubjectCode: string;
}

async function exercise(transports: { ingress: Transport; egress: Transport }, subject: string): Promise<ProtocolResult> {
  const ingress = createClient(IngressService, transports.ingress);
  const egress = createClient(EgressService, transports.egress);
  const published = await ingress.publish({
    subject,
    data: new TextEncoder().encode(`hello from ${subject}`),
    headers: { 'content-type': 'text/plain' },
  });

  const subscription = new AbortController();
  let notified = '';
  for await (const notification of egress.subscribe({ subject, durableName: 'page' }, { signal: subscription.signal })) {
    notified = String(notification.sequence);
    break;
  }
  subscription.abort();

  const fetched: ProtocolResult['fetched'] = [];
  for await (const message of egress.fetch({ subject, durableName: 'page', batchSize: 10 })) {
    fetched.push({
      sequence: String(message.sequence),
      text: new TextDecoder().decode(message.data),
      contentType: message.headers['content-type'],
    });
  }
  await egress.ackMessage({ subject, durableName: 'page', sequence: published.sequence });
  // Fetch never moves the position, so only the Ack can have emptied this one.
  const fetchedAfterAck: string[] = [];
  for await (const message of egress.fetch({ subject, durableName: 'page', batchSize: 10 })) fetchedAfterAck.push(String(message.sequence));

  let emptySubjectCode = 'none';
  try {
    await ingress.publish({ subject: '' });
  } catch (error) {
    emptySubjectCode = Code[ConnectError.from(error).code];
  }
  return { sequence: String(published.sequence), notified, fetched, fetchedAfterAck, emptySubjectCode };
}

async function runClients(ingressUrl: string, egressUrl: string): Promise<Record<string, ProtocolResult>> {
  return {
    connect: await exercise(
      { ingress: createConnectTransport({ baseUrl: ingressUrl }), egress: createConnectTransport({ baseUrl: egressUrl }) },
      'browser.connect',
    ),
    grpcweb: await exercise(
      { ingress: createGrpcWebTransport({ baseUrl: ingressUrl }), egress: createGrpcWebTransport({ baseUrl: egressUrl }) },
      'browser.grpcweb',
    ),
  };
}

(globalThis as unknown as { runClients: typeof runClients }).runClients = runClients;
