import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { MessageSchema } from '../../gen/minitoolstream/egress_pb.js';
import type { StoredMessage } from '../store/store.js';

/** A stored message as Fetch and Consume send it. */
export function toWireMessage(message: StoredMessage): MessageInitShape<typeof MessageSchema> {
  return {
    subject: message.subject,
    sequence: message.sequence,
    data: message.data,
    headers: message.headers,
    timestamp: timestampFromMs(message.timestampMs),
  };
}
