// The GSS-API binding against a live MIT KDC on loopback: a client and a server context in one
// process, token ping-pong, names, wrap/unwrap at both levels, tampering, size limits, keytab
// selection, errors, and proof that the blocking calls run off the event loop.
//
// The krb5 library reads KRB5_CONFIG etc. from this process's environment, so the KDC's env is
// copied into process.env before the first call. node:test runs each file in its own process.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { kdcSkipReason, startKdc, type Kdc } from '../helpers/kdc.js';
import { requireTool } from '../helpers/tools.js';
import { establish, loadGssapiForTests } from '../helpers/gssapi.js';
import {
  GssFlag,
  GssStatus,
  SocksGssapiError,
  type GssapiBinding,
  type GssAcceptor,
  type GssInitiator,
} from '../../src/gssapi/index.js';
import { SocksUsageError } from '../../src/errors.js';

const kdcSkip = kdcSkipReason();
const loaded = await loadGssapiForTests();
const skip = loaded.skip ?? kdcSkip ?? false;

const text = (s: string) => new TextEncoder().encode(s);
const contains = (haystack: Uint8Array, needle: Uint8Array) =>
  Buffer.from(haystack).includes(Buffer.from(needle));

function assertGssError(err: unknown, routines: readonly string[], operation: string): true {
  assert.ok(err instanceof SocksGssapiError, `expected SocksGssapiError, got ${String(err)}`);
  assert.equal(err.code, 'ERR_SOCKS_GSSAPI');
  assert.equal(err.operation, operation);
  assert.ok(routines.includes(err.routine), `routine ${err.routine} not in ${routines.join(',')}`);
  assert.ok(!err.message.includes('\n'), 'one line');
  return true;
}

describe('GSS-API binding with a live KDC', { skip }, () => {
  let kdc: Kdc;
  let gss: GssapiBinding;

  before(async () => {
    kdc = await startKdc();
    Object.assign(process.env, kdc.env);
    gss = loaded.binding!;
  });

  after(async () => {
    await kdc.stop();
  });

  /** A fresh, established pair: the credentials are disposed once the contexts are complete. */
  async function pair(): Promise<{ client: GssInitiator; server: GssAcceptor }> {
    const serverCred = await gss.acquireAcceptorCredential({
      keytab: kdc.keytab,
      serviceName: kdc.serviceName,
    });
    const clientCred = await gss.acquireInitiatorCredential({ ccache: kdc.ccache });
    const client = gss.createInitiator({ target: kdc.serviceName, credential: clientCred });
    const server = gss.createAcceptor(serverCred);
    await establish(client, server);
    serverCred.dispose();
    clientCred.dispose();
    return { client, server };
  }

  it('establishes a context by token ping-pong and names both principals', async () => {
    const serverCred = await gss.acquireAcceptorCredential({
      keytab: kdc.keytab,
      serviceName: kdc.serviceName,
    });
    assert.equal(serverCred.usage, 'accept');
    const clientCred = await gss.acquireInitiatorCredential({ ccache: kdc.ccache });
    const client = gss.createInitiator({ target: kdc.serviceName, credential: clientCred });
    const server = gss.createAcceptor(serverCred);

    const first = await client.step();
    assert.equal(first.complete, false, 'mutual authentication needs a reply');
    assert.ok(first.token !== undefined && first.token.length > 100, 'AP-REQ token');
    const answer = await server.step(first.token);
    assert.equal(answer.complete, true);
    assert.ok(answer.token !== undefined && answer.token.length > 0, 'AP-REP token (mutual auth)');
    const last = await client.step(answer.token);
    assert.deepEqual(last, { token: undefined, complete: true });

    for (const side of [client, server]) {
      assert.equal(side.sourceName, kdc.user.principal);
      assert.equal(side.targetName, kdc.servicePrincipal);
      // The ticket lives 1 h; MIT's acceptor adds its 5-minute clock-skew allowance.
      assert.ok(side.lifetime > 0 && side.lifetime <= 3600 + 300, `lifetime ${side.lifetime}`);
      for (const flag of [GssFlag.Mutual, GssFlag.Integ, GssFlag.Conf, GssFlag.Replay]) {
        assert.ok((side.flags & flag) !== 0, `flag ${flag} on ${side.role}`);
      }
    }
    await assert.rejects(client.step(), SocksUsageError, 'complete context refuses more steps');
    client.dispose();
    server.dispose();
    serverCred.dispose();
    clientCred.dispose();
  });

  it('round-trips wrap/unwrap at integrity and at confidentiality, both directions', async () => {
    const { client, server } = await pair();
    const sizes = [0, 1, 10, 1000, 65000];
    for (const confidential of [false, true]) {
      for (const [from, to] of [
        [client, server],
        [server, client],
      ] as const) {
        for (const size of sizes) {
          const data = Uint8Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff);
          const wrapped = from.wrap(data, { confidential });
          assert.equal(wrapped.confidential, confidential);
          if (size >= 10) {
            // RFC 4121: an integrity-only token carries the plaintext; a sealed one must not.
            assert.equal(contains(wrapped.token, data), !confidential, `${size} octets`);
          }
          const sent = wrapped.token.slice();
          const unwrapped = to.unwrap(wrapped.token);
          assert.deepEqual(wrapped.token, sent, "unwrap leaves the caller's token untouched");
          assert.deepEqual(unwrapped.data, data);
          assert.equal(unwrapped.confidential, confidential);
          assert.equal(unwrapped.qop, 0);
          assert.equal(unwrapped.supplementary, 0);
        }
      }
    }
    client.dispose();
    server.dispose();
  });

  it('detects a tampered token, and a replayed one', async () => {
    const { client, server } = await pair();
    const message = text('CONNECT example.org:443 — integrity matters');
    for (const confidential of [false, true]) {
      const { token } = client.wrap(message, { confidential });
      const tampered = token.slice();
      tampered[token.length >> 1] = (tampered[token.length >> 1] ?? 0) ^ 0x01;
      assert.throws(
        () => server.unwrap(tampered),
        (err: unknown) =>
          assertGssError(err, ['GSS_S_BAD_SIG', 'GSS_S_DEFECTIVE_TOKEN'], 'gss_unwrap'),
      );
      // The genuine token still unwraps: the bad one did not consume its sequence number.
      assert.deepEqual(server.unwrap(token).data, message);
      assert.throws(
        () => server.unwrap(token),
        (err: unknown) => assertGssError(err, ['GSS_S_DUPLICATE_TOKEN'], 'gss_unwrap'),
      );
      const replay = server.unwrap(token, { allowOutOfSequence: true });
      assert.ok((replay.supplementary & GssStatus.DuplicateToken) !== 0);
    }
    client.dispose();
    server.dispose();
  });

  it('reports wrap size limits that are exact for an RFC 1961 65535-octet token', async () => {
    const { client, server } = await pair();
    for (const confidential of [false, true]) {
      const limit = client.wrapSizeLimit(65535, confidential);
      assert.ok(limit > 65535 - 256 && limit < 65535, `limit ${limit}`);
      assert.ok(client.wrap(new Uint8Array(limit), { confidential }).token.length <= 65535);
      assert.ok(client.wrap(new Uint8Array(limit + 1), { confidential }).token.length > 65535);
      assert.equal(server.wrapSizeLimit(65535, confidential), limit, 'same on both sides');
    }
    assert.throws(() => client.wrapSizeLimit(0, false), SocksUsageError);
    client.dispose();
    server.dispose();
  });

  it('selects the keytab per credential, or from KRB5_KTNAME by default', async () => {
    // A second service whose key is only in a second keytab.
    const socks = await kdc.addPrincipal('socks/localhost');
    const socksKeytab = join(kdc.dir, 'socks.keytab');
    await kdc.exportKeytab(socksKeytab, socks);
    const clientCred = await gss.acquireInitiatorCredential({ ccache: kdc.ccache });

    const socksCred = await gss.acquireAcceptorCredential({ keytab: socksKeytab });
    const viaOption = gss.createAcceptor(socksCred);
    const toSocks = gss.createInitiator({ target: 'socks@localhost', credential: clientCred });
    await establish(toSocks, viaOption);
    assert.equal(viaOption.targetName, socks);

    // Default credentials read KRB5_KTNAME (the rcmd keytab): socks' key is not there.
    const viaDefault = gss.createAcceptor();
    const again = gss.createInitiator({ target: 'socks@localhost', credential: clientCred });
    const first = await again.step();
    await assert.rejects(viaDefault.step(first.token!), (err: unknown) =>
      assertGssError(
        err,
        ['GSS_S_FAILURE', 'GSS_S_NO_CRED', 'GSS_S_DEFECTIVE_CREDENTIAL'],
        'gss_accept_sec_context',
      ),
    );
    assert.equal(viaDefault.disposed, true, 'a failed step disposes the context');
    // ... but it accepts the rcmd service with no name and no keytab option.
    const rcmdDefault = gss.createAcceptor();
    const toRcmd = gss.createInitiator({ target: kdc.serviceName, credential: clientCred });
    await establish(toRcmd, rcmdDefault);
    assert.equal(rcmdDefault.targetName, kdc.servicePrincipal);
    for (const disposable of [
      toSocks,
      viaOption,
      again,
      rcmdDefault,
      toRcmd,
      socksCred,
      clientCred,
    ]) {
      disposable.dispose();
    }
  });

  it('turns failures into ERR_SOCKS_GSSAPI with the library text, promptly', async () => {
    await assert.rejects(
      gss.acquireAcceptorCredential({ keytab: join(kdc.dir, 'missing.keytab') }),
      (err: unknown) => {
        assertGssError(err, ['GSS_S_NO_CRED', 'GSS_S_FAILURE'], 'gss_acquire_cred_from(accept)');
        assert.match((err as Error).message, /missing\.keytab/);
        return true;
      },
    );
    const unknown = gss.createInitiator({ target: 'nosuchservice@localhost' });
    await assert.rejects(unknown.step(), (err: unknown) => {
      assertGssError(err, ['GSS_S_FAILURE'], 'gss_init_sec_context');
      assert.match((err as Error).message, /not found in Kerberos database/);
      return true;
    });
    // A client with no ticket at all: the failure path, not a hang.
    const empty = await gss
      .acquireInitiatorCredential({ ccache: `FILE:${join(kdc.dir, 'empty-ccache')}` })
      .then(
        () => assert.fail('no credentials expected'),
        (err: unknown) => err,
      );
    assertGssError(empty, ['GSS_S_NO_CRED', 'GSS_S_FAILURE'], 'gss_acquire_cred_from(initiate)');

    const server = gss.createAcceptor();
    await assert.rejects(server.step(Uint8Array.of(1, 2, 3)), (err: unknown) =>
      assertGssError(err, ['GSS_S_DEFECTIVE_TOKEN', 'GSS_S_FAILURE'], 'gss_accept_sec_context'),
    );
  });

  it('refuses misuse: wrap before completion, overlapping steps, use after dispose', async () => {
    const client = gss.createInitiator({ target: kdc.serviceName });
    assert.throws(() => client.wrap(text('early')), SocksUsageError);
    const pending = client.step();
    await assert.rejects(client.step(), SocksUsageError);
    await pending;
    client.dispose();
    await assert.rejects(client.step(Uint8Array.of(1)), SocksUsageError);
    assert.throws(() => client.unwrap(Uint8Array.of(1)), SocksUsageError);
    client.dispose(); // idempotent
  });

  it('defers freeing a context disposed while its step runs on a worker thread', async () => {
    const before = gss.liveHandles().contexts;
    const client = gss.createInitiator({ target: kdc.serviceName });
    const pending = client.step();
    client.dispose();
    await assert.rejects(pending, SocksUsageError);
    assert.equal(gss.liveHandles().contexts, before);
  });

  it('does not block the event loop while a step waits for the KDC', async () => {
    // A TCP relay in *this* process sits between the library and the KDC and holds each chunk
    // for 50 ms. If gss_init_sec_context ran on the main thread, the relay could never forward
    // the TGS exchange and the step would fail; the interval must also keep ticking meanwhile.
    const relays: Socket[] = [];
    let relayed = 0;
    const relay: Server = createServer((down) => {
      const up = connect({ host: '127.0.0.1', port: kdc.port });
      relays.push(down, up);
      const forward = (from: Socket, to: Socket) =>
        from.on('data', (chunk: Buffer) => {
          relayed += chunk.length;
          setTimeout(() => to.write(chunk), 50);
        });
      forward(down, up);
      forward(up, down);
      down.on('error', () => up.destroy());
      up.on('error', () => down.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayPort = (relay.address() as { port: number }).port;
    const config = join(kdc.dir, 'krb5-relay.conf');
    await kdc.writeClientConfig(config, relayPort);
    // A fresh ccache holds only a TGT, so the step must fetch a service ticket from the KDC.
    const ccache = `FILE:${join(kdc.dir, 'ccache-relay')}`;
    await kdc.kinit(kdc.user.principal, kdc.user.password, ccache);
    const saved = process.env.KRB5_CONFIG;
    process.env.KRB5_CONFIG = config; // no call is in flight now
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      const credential = await gss.acquireInitiatorCredential({ ccache });
      const client = gss.createInitiator({ target: kdc.serviceName, credential });
      const step = await client.step();
      assert.ok(step.token !== undefined);
      assert.ok(relayed > 0, 'the TGS exchange went through the in-process relay');
      assert.ok(ticks > 0, 'the event loop kept running during the step');
      client.dispose();
      credential.dispose();
    } finally {
      clearInterval(timer);
      process.env.KRB5_CONFIG = saved;
      for (const s of relays) s.destroy();
      await new Promise((resolve) => relay.close(resolve));
    }
  });

  it('releases every handle it made', () => {
    assert.deepEqual(gss.liveHandles(), { credentials: 0, contexts: 0 });
  });
});

// The curl interop tests (test/interop/curl-gssapi.test.ts) need a curl built with GSS-API, as Debian's is.
describe('Debian curl for the GSS-API interop tests', { skip: requireTool('curl') }, () => {
  it('lists GSS-API and Kerberos among its features', () => {
    const version = execFileSync('curl', ['-V'], { encoding: 'utf8', timeout: 5_000 });
    const features = /^Features: (.*)$/m.exec(version)?.[1]?.split(' ') ?? [];
    assert.ok(features.includes('GSS-API'), features.join(' '));
    assert.ok(features.includes('Kerberos'), features.join(' '));
  });
});
