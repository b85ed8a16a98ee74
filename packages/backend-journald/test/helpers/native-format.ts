/**
 * Decodes one datagram of journald's native protocol, as journald does: `KEY=VALUE\n`, or
 * `KEY\n` + u64le length + bytes + `\n`. Throws on anything journald would call malformed, so a
 * test sees encoder bugs that journald would silently drop.
 */
export function decodeNativeDatagram(data: Buffer): Array<[name: string, value: Buffer]> {
  const fields: Array<[string, Buffer]> = [];
  let at = 0;
  while (at < data.length) {
    const lf = data.indexOf(0x0a, at);
    if (lf < 0) throw new Error(`trailing bytes at ${at}`);
    const line = data.subarray(at, lf);
    const eq = line.indexOf(0x3d);
    if (eq >= 0) {
      fields.push([line.subarray(0, eq).toString('latin1'), Buffer.from(line.subarray(eq + 1))]);
      at = lf + 1;
    } else {
      const name = line.toString('latin1');
      const low = data.readUInt32LE(lf + 1);
      const high = data.readUInt32LE(lf + 5);
      const length = high * 0x1_0000_0000 + low;
      const start = lf + 9;
      if (data[start + length] !== 0x0a) throw new Error(`field ${name}: no LF after ${length} bytes`);
      fields.push([name, Buffer.from(data.subarray(start, start + length))]);
      at = start + length + 1;
    }
  }
  return fields;
}

/** The decoded fields as an object of UTF-8 strings; a repeated name is an error. */
export function decodeNativeRecord(data: Buffer): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [name, value] of decodeNativeDatagram(data)) {
    if (name in record) throw new Error(`field ${name} repeated`);
    record[name] = value.toString('utf8');
  }
  return record;
}
