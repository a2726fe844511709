/**
 * The lines of a byte stream as bytes, without their `\n` (or `\r\n`); a last
 * line without a newline counts too. Reads chunk by chunk, so a consumer that
 * stops pulling stops the reading.
 */
export async function* lines(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let rest = Buffer.alloc(0);
  for await (const chunk of input) {
    let text = rest.length === 0 ? chunk : Buffer.concat([rest, chunk]);
    for (let end = text.indexOf(10); end !== -1; end = text.indexOf(10)) {
      yield withoutCarriageReturn(text.subarray(0, end));
      text = text.subarray(end + 1);
    }
    rest = Buffer.from(text);
  }
  if (rest.length > 0) yield withoutCarriageReturn(rest);
}

const withoutCarriageReturn = (line: Buffer): Buffer => (line.at(-1) === 13 ? line.subarray(0, -1) : line);
