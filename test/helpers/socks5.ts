/**
 * Hand-written SOCKS5 client bytes for integration tests. Deliberately not ferry's encoder:
 * the server under test must be checked against bytes written from the RFC.
 */
export const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');

/** 05 01 00: version 5, one method, no authentication. */
export const GREETING_NOAUTH = hex('05 01 00');
/** 05 01 02: version 5, one method, username/password. */
export const GREETING_USERPASS = hex('05 01 02');

/** CONNECT request to an IPv4 address: 05 01 00 01 a b c d PORT. */
export function connectIPv4(ip: string, port: number): Buffer {
  const b = Buffer.alloc(10);
  b.set([0x05, 0x01, 0x00, 0x01], 0);
  ip.split('.').forEach((o, i) => (b[4 + i] = Number(o)));
  b.writeUInt16BE(port, 8);
  return b;
}

/** CONNECT request to ::1: 05 01 00 04 <16 octets> PORT. */
export function connectIPv6Loopback(port: number): Buffer {
  const b = Buffer.alloc(22);
  b.set([0x05, 0x01, 0x00, 0x04], 0);
  b[19] = 0x01;
  b.writeUInt16BE(port, 20);
  return b;
}

/** CONNECT request to a domain: 05 01 00 03 LEN NAME PORT. */
export function connectDomain(name: string, port: number): Buffer {
  const n = Buffer.from(name, 'latin1');
  const b = Buffer.alloc(7 + n.length);
  b.set([0x05, 0x01, 0x00, 0x03, n.length], 0);
  n.copy(b, 5);
  b.writeUInt16BE(port, 5 + n.length);
  return b;
}

/** RFC 1929 request: 01 ULEN UNAME PLEN PASSWD. */
export function userPass(user: string | Buffer, pass: string | Buffer): Buffer {
  const u = Buffer.isBuffer(user) ? user : Buffer.from(user);
  const p = Buffer.isBuffer(pass) ? pass : Buffer.from(pass);
  return Buffer.concat([Buffer.from([0x01, u.length]), u, Buffer.from([p.length]), p]);
}

/** Parses a reply with an IPv4 or IPv6 BND address (the only kinds ferry sends). */
export function parseReply(b: Buffer): {
  ver: number;
  rep: number;
  atyp: number;
  host: string;
  port: number;
  length: number;
} {
  const atyp = b[3]!;
  if (atyp === 0x01) {
    return {
      ver: b[0]!,
      rep: b[1]!,
      atyp,
      host: [...b.subarray(4, 8)].join('.'),
      port: b.readUInt16BE(8),
      length: 10,
    };
  }
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(4 + i * 2).toString(16));
  return {
    ver: b[0]!,
    rep: b[1]!,
    atyp,
    host: groups.join(':'),
    port: b.readUInt16BE(20),
    length: 22,
  };
}
