/**
 * Proxy descriptions: `socks5://`, `socks5h://`, `socks4://` and `socks4a://` URLs (the schemes
 * curl uses, with the same meaning of the `h`/`a`: the proxy resolves names) or plain objects,
 * validated once into a frozen {@link SocksProxy}.
 */
import { inspect } from 'node:util';
import { formatHostPort, parseIPv6 } from '../protocol/address.js';
import { Limits } from '../protocol/constants.js';
import { Socks4Limits } from '../protocol/socks4.js';
import type { ClientAuthMethod } from './auth-method.js';
import { invalidOption } from '../errors.js';
import {
  gssapiMethod,
  gssapiOptionsOf,
  type GssapiClientOptions,
  type GssapiLevel,
} from './gssapi.js';

/**
 * - `socks5`: SOCKS5; the client resolves destination names itself (RFC 1928 ATYP 01/04).
 * - `socks5h`: SOCKS5; names are sent to the proxy to resolve (ATYP 03) — no local DNS lookup.
 * - `socks4`: SOCKS4; IPv4 only, the client resolves names.
 * - `socks4a`: SOCKS4a; names are sent to the proxy.
 */
export type ProxyProtocol = 'socks5' | 'socks5h' | 'socks4' | 'socks4a';

/** A proxy as an object. */
export interface ProxyOptions {
  /** Default `'socks5h'`: names resolved on the proxy, so nothing leaks to the local resolver. */
  readonly protocol?: ProxyProtocol;
  /** Host name or IP address; IPv6 with or without brackets. */
  readonly host: string;
  /** Default 1080. */
  readonly port?: number;
  /**
   * SOCKS5: RFC 1929 username (1–255 octets), sent only together with `password`.
   * SOCKS4/4a: the USERID field (0–255 octets).
   */
  readonly username?: string;
  /** SOCKS5 only: RFC 1929 password (1–255 octets). */
  readonly password?: string;
  /**
   * SOCKS5 only: extra authentication methods to offer (GSS-API, private methods), after
   * none and username/password. See {@link ClientAuthMethod}.
   */
  readonly methods?: readonly ClientAuthMethod[];
  /**
   * SOCKS5 only: authenticate with Kerberos through GSS-API (RFC 1961) and protect the traffic
   * at the level asked for (default confidentiality); `true` for the defaults. The proxy must
   * then authenticate: `none` is not offered. See docs/gssapi.md.
   */
  readonly gssapi?: GssapiClientOptions | boolean;
}

/** Anything a proxy can be given as. */
export type ProxyInput = string | URL | ProxyOptions | SocksProxy;

/** The default SOCKS port (RFC 1928 §3: "conventionally ... TCP port 1080"). */
export const DEFAULT_SOCKS_PORT = 1080;

const protocols: ReadonlySet<string> = new Set(['socks5', 'socks5h', 'socks4', 'socks4a']);
const textEncoder = new TextEncoder();

/**
 * One validated, immutable proxy. The password is held in a private field: it is not
 * enumerable, not in `toString()`, `JSON.stringify()` or `util.inspect()`, and never in an
 * error message.
 */
export class SocksProxy {
  readonly protocol: ProxyProtocol;
  /** Host without brackets. */
  readonly host: string;
  readonly port: number;
  readonly username: string | undefined;
  readonly methods: readonly ClientAuthMethod[];
  readonly #password: string | undefined;

  /** @throws SocksUsageError (`ERR_SOCKS_INVALID_OPTION`) naming the bad field. */
  constructor(options: ProxyOptions) {
    const protocol = options.protocol ?? 'socks5h';
    if (!protocols.has(protocol)) {
      throw invalidOption('proxy.protocol', `expected socks5, socks5h, socks4 or socks4a`);
    }
    let host = options.host;
    if (typeof host !== 'string' || host === '') throw invalidOption('proxy.host', 'missing');
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (host.includes(':') && parseIPv6(host) === undefined) {
      throw invalidOption('proxy.host', `not a host name or IP address: "${host}"`);
    }
    const port = options.port ?? DEFAULT_SOCKS_PORT;
    if (!Number.isInteger(port) || port < 1 || port > 0xffff) {
      throw invalidOption('proxy.port', `must be an integer 1-65535, got ${String(port)}`);
    }
    const isSocks5 = protocol === 'socks5' || protocol === 'socks5h';
    const { username, password } = options;
    if (isSocks5) {
      if ((username === undefined) !== (password === undefined)) {
        throw invalidOption('proxy', 'username and password go together for SOCKS5 (RFC 1929)');
      }
      checkOctets('proxy.username', username, 1, Limits.maxCredentialLength);
      checkOctets('proxy.password', password, 1, Limits.maxCredentialLength);
    } else {
      if (password !== undefined) {
        throw invalidOption('proxy.password', 'SOCKS4 carries no password (only a user-id)');
      }
      checkOctets('proxy.username', username, 0, Socks4Limits.maxUserIdLength);
      if (username?.includes('\0')) throw invalidOption('proxy.username', 'contains NUL');
    }
    const methods = [...(options.methods ?? [])];
    if (options.gssapi !== undefined && options.gssapi !== false) {
      if (!isSocks5) throw invalidOption('proxy.gssapi', 'GSS-API is a SOCKS5 method');
      methods.unshift(gssapiMethod(options.gssapi === true ? {} : options.gssapi));
    }
    if (methods.length > 0 && !isSocks5) {
      throw invalidOption('proxy.methods', 'authentication methods are a SOCKS5 feature');
    }
    this.protocol = protocol;
    this.host = host;
    this.port = port;
    this.username = username;
    this.#password = password;
    this.methods = Object.freeze([...methods]);
    Object.freeze(this);
  }

  /** 5 or 4: the SOCKS version spoken to this proxy. */
  get version(): 4 | 5 {
    return this.protocol === 'socks5' || this.protocol === 'socks5h' ? 5 : 4;
  }

  /** True when destination names are sent to the proxy (`socks5h`, `socks4a`). */
  get remoteDns(): boolean {
    return this.protocol === 'socks5h' || this.protocol === 'socks4a';
  }

  /** SOCKS5 credentials for RFC 1929, when configured. Not stored anywhere else. */
  credentials(): { username: string; password: string } | undefined {
    return this.username !== undefined && this.#password !== undefined
      ? { username: this.username, password: this.#password }
      : undefined;
  }

  /** GSS-API settings, when this proxy uses the method (see {@link ProxyOptions.gssapi}). */
  get gssapi(): GssapiClientOptions | undefined {
    for (const m of this.methods) {
      const options = gssapiOptionsOf(m);
      if (options !== undefined) return options;
    }
    return undefined;
  }

  /** `socks5h://user@host:port` (`socks5h+gssapi://host:port?level=...`) — never the password. */
  toString(): string {
    const user = this.username === undefined ? '' : `${encodeURIComponent(this.username)}@`;
    const gssapi = this.gssapi;
    const scheme = gssapi === undefined ? this.protocol : `${this.protocol}+gssapi`;
    const query = gssapi === undefined ? '' : gssapiQuery(gssapi);
    return `${scheme}://${user}${formatHostPort(this.host, this.port)}${query}`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return `SocksProxy <${this.toString()}>`;
  }
}

function checkOctets(field: string, value: string | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'string') throw invalidOption(field, 'must be a string');
  const n = textEncoder.encode(value).length;
  if (n < min || n > max) throw invalidOption(field, `must be ${min}-${max} octets, got ${n}`);
}

/** The URL query for GSS-API settings that differ from the defaults. */
function gssapiQuery(options: GssapiClientOptions): string {
  const params = new URLSearchParams();
  if (options.service !== undefined && options.service !== 'rcmd')
    params.set('service', options.service);
  if (options.level !== undefined && options.level !== 'confidentiality')
    params.set('level', options.level);
  if (options.nec === true) params.set('nec', '1');
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/** The query parameters of a `socks5+gssapi://` URL. */
const gssapiParams = ['service', 'level', 'nec', 'principal', 'ccache'] as const;

function gssapiFromQuery(query: URLSearchParams): GssapiClientOptions {
  const options: { -readonly [K in keyof GssapiClientOptions]: GssapiClientOptions[K] } = {};
  for (const [key, value] of query) {
    if (!(gssapiParams as readonly string[]).includes(key)) {
      throw invalidOption(
        'proxy',
        `unknown parameter "${key}" (a GSS-API proxy URL takes ${gssapiParams.join(', ')})`,
      );
    }
    if (query.getAll(key).length > 1)
      throw invalidOption('proxy', `parameter "${key}" given twice`);
    if (key === 'nec') {
      if (!['1', '0', 'true', 'false'].includes(value)) {
        throw invalidOption('proxy', `nec must be 1, 0, true or false, got "${value}"`);
      }
      options.nec = value === '1' || value === 'true';
    } else if (key === 'level') {
      options.level = value as GssapiLevel;
    } else {
      options[key as 'service' | 'principal' | 'ccache'] = value;
    }
  }
  return options;
}

function decodeComponent(field: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalidOption(field, 'bad percent-encoding');
  }
}

/**
 * Parses a proxy URL: `socks5h://user:pa%40ss@[::1]:1080`. The user and password are
 * percent-decoded; the port defaults to 1080; a path other than `/`, a query or a fragment is
 * an error (they would be silently meaningless).
 * @throws SocksUsageError naming what is wrong (never echoing the password).
 */
export function parseProxyUrl(url: string | URL): SocksProxy {
  let parsed: URL;
  try {
    parsed = typeof url === 'string' ? new URL(url) : url;
  } catch {
    throw invalidOption('proxy', `not a URL: "${redact(String(url))}"`);
  }
  const fullScheme = parsed.protocol.replace(/:$/, '');
  const gssapi = fullScheme.endsWith('+gssapi');
  const scheme = gssapi ? fullScheme.slice(0, -'+gssapi'.length) : fullScheme;
  if (!protocols.has(scheme) || (gssapi && scheme !== 'socks5' && scheme !== 'socks5h')) {
    throw invalidOption(
      'proxy',
      `unsupported scheme "${fullScheme}:" (use socks5://, socks5h://, socks4://, socks4a://, socks5+gssapi:// or socks5h+gssapi://)`,
    );
  }
  if (
    (parsed.pathname !== '' && parsed.pathname !== '/') ||
    parsed.hash ||
    (parsed.search && !gssapi)
  ) {
    throw invalidOption(
      'proxy',
      gssapi ? 'a proxy URL has no path or fragment' : 'a proxy URL has no path, query or fragment',
    );
  }
  if (parsed.hostname === '') throw invalidOption('proxy.host', 'missing');
  const options: {
    -readonly [K in keyof ProxyOptions]: ProxyOptions[K];
  } = {
    protocol: scheme as ProxyProtocol,
    host: parsed.hostname,
  };
  if (gssapi) options.gssapi = gssapiFromQuery(parsed.searchParams);
  if (parsed.port !== '') options.port = Number(parsed.port);
  if (parsed.username !== '') {
    options.username = decodeComponent('proxy.username', parsed.username);
  }
  if (parsed.password !== '') {
    options.password = decodeComponent('proxy.password', parsed.password);
  }
  return new SocksProxy(options);
}

/** Hides a password in a URL-ish string before it goes into a message. */
function redact(text: string): string {
  return text.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

/**
 * Turns any {@link ProxyInput} into a {@link SocksProxy}.
 * @throws SocksUsageError naming the bad field.
 */
export function parseProxy(input: ProxyInput): SocksProxy {
  if (input instanceof SocksProxy) return input;
  if (typeof input === 'string' || input instanceof URL) return parseProxyUrl(input);
  if (typeof input !== 'object') throw invalidOption('proxy', 'expected a URL or an object');
  return new SocksProxy(input);
}

/** The proxies of a `{ proxy }` or `{ proxies }` option, validated; at least one. */
export function parseProxies(options: {
  readonly proxy?: ProxyInput | undefined;
  readonly proxies?: readonly ProxyInput[] | undefined;
}): readonly SocksProxy[] {
  if (options.proxy !== undefined && options.proxies !== undefined) {
    throw invalidOption('proxies', 'give either proxy or proxies, not both');
  }
  const list = options.proxies ?? (options.proxy === undefined ? [] : [options.proxy]);
  if (list.length === 0) throw invalidOption('proxy', 'at least one proxy is required');
  return Object.freeze(list.map(parseProxy));
}
