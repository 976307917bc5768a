// The "naive Node proxy" contestant: what a developer writes in an afternoon, and the stand-in
// for ferry until ferry's server exists. SOCKS5 (RFC 1928) method 00, CONNECT and UDP ASSOCIATE
// (IPv4 + domain), stream.pipe() relay. Naive on purpose: it assumes each handshake message
// arrives in one 'data' event and does no timeouts, limits or error mapping.
// usage: node naive-socks5.mjs PORT [HOST]
import net from 'node:net';
import dgram from 'node:dgram';

const port = Number(process.argv[2] ?? 1080);
const host = process.argv[3] ?? '127.0.0.1';

function reply(rep, addr = '0.0.0.0', p = 0) {
  return Buffer.from([5, rep, 0, 1, ...addr.split('.').map(Number), p >> 8, p & 255]);
}
function readAddress(b, at) {
  if (b[at] === 1) return { host: b.subarray(at + 1, at + 5).join('.'), end: at + 5 };
  if (b[at] === 3)
    return { host: b.toString('latin1', at + 2, at + 2 + b[at + 1]), end: at + 2 + b[at + 1] };
  return null;
}

net
  .createServer((client) => {
    client.on('error', () => client.destroy());
    client.once('data', () => {
      client.write(Buffer.from([5, 0]));
      client.once('data', (req) => {
        const dst = readAddress(req, 3);
        if (req[0] !== 5 || dst === null) return client.end(reply(8));
        const dstPort = req.readUInt16BE(dst.end);
        if (req[1] === 1) {
          const up = net.connect(dstPort, dst.host, () => {
            client.write(reply(0, up.localAddress, up.localPort));
            client.pipe(up).pipe(client);
          });
          up.on('error', () =>
            up.readyState === 'opening' ? client.end(reply(5)) : client.destroy(),
          );
          client.on('close', () => up.destroy());
        } else if (req[1] === 3) {
          const relay = dgram.createSocket('udp4');
          relay.bind(0, client.localAddress, () => {
            client.write(reply(0, client.localAddress, relay.address().port));
          });
          let peer = null;
          relay.on('message', (msg, from) => {
            if (from.address === client.remoteAddress && (peer === null || from.port === peer)) {
              peer = from.port;
              const to = readAddress(msg, 3);
              if (msg[2] !== 0 || to === null) return;
              relay.send(msg.subarray(to.end + 2), msg.readUInt16BE(to.end), to.host);
            } else if (peer !== null) {
              const head = reply(0, from.address, from.port);
              head[0] = 0; // RFC 1928 §7 header RSV(2) FRAG ATYP ADDR PORT: a reply with VER=0
              relay.send(Buffer.concat([head, msg]), peer, client.remoteAddress);
            }
          });
          client.resume();
          client.on('close', () => relay.close());
        } else {
          client.end(reply(7));
        }
      });
    });
  })
  .listen(port, host);
