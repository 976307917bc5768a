/**
 * Hand-written SOCKS4/4a client bytes for integration tests (not ferry's encoder):
 * VN=04 | CD | DSTPORT(2) | DSTIP(4) | USERID | 00 [| DOMAIN | 00]
 */

/** SOCKS4 request to an IPv4 address. CD 01 CONNECT, 02 BIND. */
export function socks4Request(cd: number, ip: string, port: number, userId = ''): Buffer {
  const head = Buffer.alloc(8);
  head[0] = 0x04;
  head[1] = cd;
  head.writeUInt16BE(port, 2);
  ip.split('.').forEach((o, i) => (head[4 + i] = Number(o)));
  return Buffer.concat([head, Buffer.from(userId, 'latin1'), Buffer.from([0x00])]);
}

/** SOCKS4a request: DSTIP 0.0.0.1, then USERID NUL, then the domain name and NUL. */
export function socks4aRequest(cd: number, domain: string, port: number, userId = ''): Buffer {
  return Buffer.concat([
    socks4Request(cd, '0.0.0.1', port, userId),
    Buffer.from(domain, 'latin1'),
    Buffer.from([0x00]),
  ]);
}

/** Parses the 8-octet reply: VN=00 | CD | DSTPORT | DSTIP. */
export function parseSocks4Reply(b: Buffer): { vn: number; cd: number; port: number; ip: string } {
  return {
    vn: b[0]!,
    cd: b[1]!,
    port: b.readUInt16BE(2),
    ip: [...b.subarray(4, 8)].join('.'),
  };
}
