/**
 * A throwaway MIT Kerberos realm for tests: a real `krb5kdc` on a loopback TCP port, its database
 * in a temp directory, a service principal with a keytab and a user principal with a password and
 * a TGT in a private credential cache. Everything lives in one directory that {@link Kdc.stop}
 * removes after killing the KDC.
 *
 * The Kerberos library reads its configuration from the *process environment* (KRB5_CONFIG, and
 * KRB5CCNAME / KRB5_KTNAME / KRB5RCACHEDIR for defaults) each time it creates a krb5 context. The
 * harness never touches `process.env`: it returns {@link Kdc.env}, and
 * - a child process (curl, `ferry serve`, a test script) gets it through `spawn(..., { env })`;
 * - a test file that drives the binding in-process copies it into `process.env` before the first
 *   GSS-API call. node:test runs every test file in its own process (the default isolation on
 *   Node 20, 22 and 24), so this never leaks into another file. Set it once, before any call is in
 *   flight: koffi runs calls on worker threads, and setenv() racing getenv() is undefined in libc.
 *
 * Debian packages: krb5-kdc (krb5kdc, kdb5_util), krb5-admin-server (kadmin.local), krb5-user
 * (kinit, klist). The library itself is libgssapi-krb5-2.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The programs the harness runs, and the Debian package that ships each. */
const tools = {
  krb5kdc: 'krb5-kdc',
  kdb5_util: 'krb5-kdc',
  'kadmin.local': 'krb5-admin-server',
  kinit: 'krb5-user',
} as const;
type Tool = keyof typeof tools;

const searchPath = [
  ...(process.env.PATH ?? '').split(delimiter),
  '/usr/sbin',
  '/usr/local/sbin',
  '/sbin',
];

function findTool(name: string): string | undefined {
  for (const dir of searchPath) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Why a KDC cannot be started here (the missing programs and their packages), or `undefined`
 * when it can. Under CI=true a missing tool is a failure, not a skip (HELPERS.md): this throws.
 */
export function kdcSkipReason(): string | undefined {
  const missing = (Object.keys(tools) as Tool[]).filter((t) => findTool(t) === undefined);
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map((t) => tools[t]))].join(' ');
  const reason = `MIT KDC tools missing (${missing.join(', ')}): apt-get install ${packages}`;
  if (process.env.CI === 'true') throw new Error(`CI=true and ${reason}`);
  return reason;
}

export interface Principal {
  /** Full name with realm, e.g. `alice@FERRY.TEST`. */
  readonly principal: string;
  readonly password: string;
}

export interface Kdc {
  readonly realm: string;
  /** The temp directory holding everything; removed by stop(). */
  readonly dir: string;
  /** The KDC's TCP port on 127.0.0.1 (no UDP listener). */
  readonly port: number;
  /**
   * KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5CCNAME (the user's TGT), KRB5_KTNAME (the service keytab)
   * and KRB5RCACHEDIR (the acceptor's replay cache, kept out of /var/tmp).
   */
  readonly env: Readonly<Record<string, string>>;
  /** The service principal, `rcmd/localhost@REALM` by default. */
  readonly servicePrincipal: string;
  /** The same as a GSS host-based service name, `rcmd@localhost`. */
  readonly serviceName: string;
  /** Keytab file holding the service principal's keys. */
  readonly keytab: string;
  /** The user principal, who has a password and a TGT in {@link ccache}. */
  readonly user: Principal;
  /** `FILE:` credential cache holding the user's TGT. */
  readonly ccache: string;
  /** Adds a principal: with a password, or with random keys when none is given. */
  addPrincipal(name: string, password?: string): Promise<string>;
  /** Writes a keytab for existing principals (new key versions: older keytabs go stale). */
  exportKeytab(path: string, ...principals: string[]): Promise<void>;
  /** Gets a TGT for a principal into a `FILE:` ccache (created if missing). */
  kinit(principal: string, password: string, ccache: string): Promise<void>;
  /** Writes another client krb5.conf for this realm whose KDC is at `127.0.0.1:kdcPort`. */
  writeClientConfig(path: string, kdcPort: number): Promise<void>;
  /** Kills the KDC and removes the directory. Safe to call twice. */
  stop(): Promise<void>;
}

export interface KdcOptions {
  /** Default `FERRY.TEST`. */
  readonly realm?: string;
  /** Service part of the service principal, default `rcmd` (what curl and Dante use). */
  readonly service?: string;
  /** Host part of the service principal, default `localhost`. */
  readonly host?: string;
  /** Default `alice`. */
  readonly user?: string;
  /**
   * Ticket lifetime (krb5 duration: `1h`, `7300d`), default `1h`. Contexts expire with their
   * ticket; long-lived fixtures (test/fixtures/capture-gssapi-fixtures.ts) need a long one.
   */
  readonly lifetime?: string;
}

const COMMAND_TIMEOUT_MS = 10_000;
const READY_TIMEOUT_MS = 5_000;
const START_ATTEMPTS = 3;

function run(
  file: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  input = '',
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { env, timeout: COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
    child.stdin?.end(input);
  });
}

/** A port free for TCP on 127.0.0.1 right now (the KDC cannot report an ephemeral port). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

const running = (child: ChildProcess): boolean =>
  child.exitCode === null && child.signalCode === null;

function clientConfig(realm: string, kdcPort: number, host: string): string {
  // dns_canonicalize_hostname/rdns off: "rcmd@localhost" must stay rcmd/localhost without DNS.
  // udp_preference_limit = 1: always TCP (the KDC has no UDP listener). "localhost" rather than
  // 127.0.0.1 so that name resolution runs inside the library call too.
  return `[libdefaults]
 default_realm = ${realm}
 dns_lookup_kdc = false
 dns_lookup_realm = false
 dns_canonicalize_hostname = false
 rdns = false
 udp_preference_limit = 1
[realms]
 ${realm} = {
  kdc = localhost:${kdcPort}
 }
[domain_realm]
 ${host} = ${realm}
`;
}

function kdcConfig(realm: string, dir: string, port: number, lifetime: string): string {
  return `[kdcdefaults]
 kdc_listen = ""
 kdc_tcp_listen = 127.0.0.1:${port}
[realms]
 ${realm} = {
  database_name = ${join(dir, 'principal')}
  key_stash_file = ${join(dir, 'stash')}
  acl_file = ${join(dir, 'kadm5.acl')}
  max_life = ${lifetime}
  max_renewable_life = ${lifetime}
 }
[logging]
 kdc = FILE:${join(dir, 'kdc.log')}
`;
}

/**
 * Creates a realm and starts its KDC. Typically a second or less; bounded by per-command
 * timeouts. Call {@link kdcSkipReason} first.
 */
export async function startKdc(options: KdcOptions = {}): Promise<Kdc> {
  const realm = options.realm ?? 'FERRY.TEST';
  const service = options.service ?? 'rcmd';
  const host = options.host ?? 'localhost';
  const userName = options.user ?? 'alice';
  const lifetime = options.lifetime ?? '1h';
  const path = (t: Tool): string => {
    const found = findTool(t);
    if (found === undefined) throw new Error(`${t} not found (apt-get install ${tools[t]})`);
    return found;
  };
  const dir = await mkdtemp(join(tmpdir(), 'ferry-kdc-'));
  let kdcProcess: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    const child = kdcProcess;
    kdcProcess = undefined;
    if (child !== undefined && running(child)) {
      const exited = new Promise<void>((resolve) => {
        child.once('exit', () => {
          resolve();
        });
      });
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(2_000)]);
      if (running(child)) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const env: Record<string, string> = {
      KRB5_CONFIG: join(dir, 'krb5.conf'),
      KRB5_KDC_PROFILE: join(dir, 'kdc.conf'),
      KRB5CCNAME: `FILE:${join(dir, 'ccache')}`,
      KRB5_KTNAME: `FILE:${join(dir, `${service}.keytab`)}`,
      KRB5RCACHEDIR: dir,
    };
    const childEnv = { ...process.env, ...env };
    const kadmin = (script: string) => run(path('kadmin.local'), ['-r', realm], childEnv, script);

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      await writeFile(env.KRB5_CONFIG!, clientConfig(realm, port, host));
      await writeFile(env.KRB5_KDC_PROFILE!, kdcConfig(realm, dir, port, lifetime));
      if (attempt === 1) {
        // -P: the master password; -s: write a stash file so the KDC starts unattended.
        await run(path('kdb5_util'), ['create', '-s', '-r', realm, '-P', 'ferry-master'], childEnv);
      }
      const child = spawn(path('krb5kdc'), ['-n', '-r', realm], {
        env: childEnv,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      kdcProcess = child;
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const deadline = Date.now() + READY_TIMEOUT_MS;
      let ready = false;
      while (!ready && Date.now() < deadline && child.exitCode === null) {
        ready = await canConnect(port);
        if (!ready) await sleep(25);
      }
      if (ready) break;
      child.kill('SIGKILL');
      kdcProcess = undefined;
      const log = await readFile(join(dir, 'kdc.log'), 'utf8').catch(() => '');
      if (attempt >= START_ATTEMPTS) {
        throw new Error(`krb5kdc did not start on port ${port}:\n${stderr}\n${log}`);
      }
    }

    const servicePrincipal = `${service}/${host}@${realm}`;
    const user: Principal = { principal: `${userName}@${realm}`, password: 'ferry-alice-pw' };
    const keytab = join(dir, `${service}.keytab`);
    const kdc: Kdc = {
      realm,
      dir,
      port,
      env,
      servicePrincipal,
      serviceName: `${service}@${host}`,
      keytab,
      user,
      ccache: env.KRB5CCNAME!,
      async addPrincipal(name, password) {
        const full = name.includes('@') ? name : `${name}@${realm}`;
        await kadmin(
          password === undefined
            ? `addprinc -maxlife ${lifetime} -randkey ${full}\n`
            : `addprinc -maxlife ${lifetime} -pw ${password} ${full}\n`,
        );
        return full;
      },
      async exportKeytab(file, ...principals) {
        await kadmin(principals.map((p) => `ktadd -k ${file} ${p}\n`).join(''));
      },
      async kinit(principal, password, ccache) {
        // MIT kinit reads the password from stdin when it is not a terminal.
        await run(
          path('kinit'),
          ['-l', lifetime, '-c', ccache, principal],
          childEnv,
          `${password}\n`,
        );
      },
      async writeClientConfig(file, kdcPort) {
        await writeFile(file, clientConfig(realm, kdcPort, host));
      },
      stop,
    };
    await kdc.addPrincipal(servicePrincipal);
    await kdc.addPrincipal(user.principal, user.password);
    await kdc.exportKeytab(keytab, servicePrincipal);
    await kdc.kinit(user.principal, user.password, kdc.ccache);
    return kdc;
  } catch (err) {
    await stop();
    throw err;
  }
}
