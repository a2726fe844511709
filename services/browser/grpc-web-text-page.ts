/**
 * Runs in the browser: the official grpc-web client in its default text mode
 * (`application/grpc-web-text`, base64 both ways). protobuf-es does the
 * (de)serialization the protoc-gen-grpc-web stubs would otherwise do.
 * Bundled by the test with esbuild; results are returned to the test as JSON.
 */
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { GrpcWebClientBase, MethodDescriptor, type RpcError } from 'grpc-web';
import { FetchRequestSchema, MessageSchema } from '../../gen/minitoolstream/egress_pb.js';
import { PublishRequestSchema, PublishResponseSchema } from '../../gen/minitoolstream/ingress_pb.js';

export interface TextModeResult {
  sequence: string;
  fetched: { sequence: string; size: number; sameBytes: boolean }[];
  emptySubjectCode: number;
}

function method<I extends DescMessage, O extends DescMessage>(path: string, kind: 'unary' | 'server_streaming', input: I, output: O) {
  return new MethodDescriptor<MessageShape<I>, MessageShape<O>>(
    path,
    kind,
    Object as never,
    Object as never,
    (message: MessageShape<I>) => toBinary(input, message),
    (bytes: Uint8Array) => fromBinary(output, bytes),
  );
}

const publish = method('/minitoolstream.IngressService/Publish', 'unary', PublishRequestSchema, PublishResponseSchema);
const fetchMessages = method('/minitoolstream.EgressService/Fetch', 'server_streaming', FetchRequestSchema, MessageSchema);

async function runTextMode(ingressUrl: string, egressUrl: string, subject: string, size: number): Promise<TextModeResult> {
  const client = new GrpcWebClientBase({ format: 'text' });
  // Every byte value, and a length that is no multiple of 3: base64 groups cross every boundary.
  const data = Uint8Array.from({ length: size }, (_, index) => (index * 31 + 7) & 0xff);
  const request = create(PublishRequestSchema, { subject, data });
  const published = await client.unaryCall(`${ingressUrl}${publish.getName()}`, request, {}, publish);

  const fetched = await new Promise<TextModeResult['fetched']>((resolve, reject) => {
    const received: TextModeResult['fetched'] = [];
    const stream = client.serverStreaming(
      `${egressUrl}${fetchMessages.getName()}`,
      create(FetchRequestSchema, { subject, durableName: 'text', batchSize: 10 }),
      {},
      fetchMessages,
    );
    stream.on('data', (message) => {
      const sameBytes = message.data.length === data.length && message.data.every((byte, index) => byte === data[index]);
      received.push({ sequence: String(message.sequence), size: message.data.length, sameBytes });
    });
    stream.on('error', reject);
    stream.on('end', () => resolve(received));
  });

  let emptySubjectCode = -1;
  try {
    await client.unaryCall(`${ingressUrl}${publish.getName()}`, create(PublishRequestSchema, { subject: '' }), {}, publish);
  } catch (error) {
    emptySubjectCode = (error as RpcError).code;
  }
  return { sequence: String(published.sequence), fetched, emptySubjectCode };
}

(globalThis as unknown as { runTextMode: typeof runTextMode }).runTextMode = runTextMode;
