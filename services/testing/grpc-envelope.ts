/** A gRPC length-prefixed message: the flags byte, the 4-byte big-endian length, the message. */
export function envelope(flags: number, message: Uint8Array): Buffer {
  const bytes = Buffer.alloc(5 + message.length);
  bytes[0] = flags;
  bytes.writeUInt32BE(message.length, 1);
  bytes.set(message, 5);
  return bytes;
}
