/**
 * Which local address this host uses toward a peer: `connect()` a UDP socket to it and read the
 * address the kernel chose. A UDP connect sends nothing — it only runs the routing decision
 * (source address selection, RFC 6724 for IPv6) that a TCP connection to the peer would get.
 *
 * BIND needs exactly this: the application server will connect back to the address the client
 * hands it, so that address must be one the peer can reach — the one on the route toward it —
 * not the address the SOCKS client happened to reach us on (on a multi-homed proxy that is often
 * an internal interface the application server cannot see).
 */
import dgram from 'node:dgram';

/**
 * The local address the kernel would use to reach `host` (an IP literal of family `family`).
 * Rejects with the socket error: ENETUNREACH, EHOSTUNREACH, EAFNOSUPPORT... (replyForError maps
 * them). `port` only matters to policy routing; 0 is replaced by 9 (RFC 863 discard), since a
 * datagram socket cannot connect to port 0.
 */
export function localAddressToward(host: string, family: 4 | 6, port = 9): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    let done = false;
    const finish = (err: Error | null, address?: string): void => {
      if (done) return;
      done = true;
      socket.close();
      if (err !== null || address === undefined) reject(err ?? new Error('no local address'));
      else resolve(address);
    };
    socket.once('error', (err) => {
      finish(err);
    });
    try {
      socket.connect(port === 0 ? 9 : port, host, (err?: Error | null) => {
        if (err) {
          finish(err);
          return;
        }
        let address: string;
        try {
          address = socket.address().address;
        } catch (err) {
          finish(err as Error);
          return;
        }
        finish(null, address);
      });
    } catch (err) {
      finish(err as Error);
    }
  });
}
