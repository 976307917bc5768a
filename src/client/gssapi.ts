/**
 * GSS-API (RFC 1961, SOCKS5 method 01) for ferry's client, as a {@link ClientAuthMethod}:
 * Kerberos context establishment with the proxy's service (MTYP 01), the protection-level
 * negotiation (MTYP 02, wrapped — or bare in the NEC variant), and then, at integrity or
 * confidentiality, every byte of the request, the replies and the data as MTYP 03 messages
 * (the handshake continues over a {@link GssapiSocket}). Give it to a proxy as
 * `{ gssapi: { ... } }` or in a URL: `socks5h+gssapi://proxy:1080?service=rcmd&level=integrity`.
 */
import type { Duplex } from 'node:stream';
import type net from 'node:net';
import { NEED_MORE } from '../protocol/decode.js';
import {
  GSSAPI_ABORT,
  ProtectionLevel,
  decodeGssapiMessage,
  decodeProtectionLevel,
  encodeGssapiMessage,
  encodeProtectionLevel,
  protectionLevelNames,
} from '../protocol/gssapi.js';
import { AuthMethod } from '../protocol/constants.js';
import {
  ClientErrorCode,
  GssapiErrorCode,
  ProtocolErrorCode,
  SocksAuthError,
  SocksError,
  SocksGssapiError,
  SocksProtocolError,
  invalidOption,
} from '../errors.js';
import { loadGssapi } from '../gssapi/load.js';
import { Encapsulation } from '../gssapi/encapsulation.js';
import { GssapiSocket } from '../gssapi/stream.js';
import type { GssapiBinding, GssCredential, GssInitiator } from '../gssapi/types.js';
import type { AuthContext, AuthExchange, AuthStep, ClientAuthMethod } from './auth-method.js';

/** A protection level by name. */
export type GssapiLevel = 'clear' | 'integrity' | 'confidentiality';

const levels: Readonly<Record<GssapiLevel, ProtectionLevel>> = {
  clear: ProtectionLevel.Clear,
  integrity: ProtectionLevel.Integrity,
  confidentiality: ProtectionLevel.Confidentiality,
};

/** Weakest first: the server may answer a level at least as strong as the one proposed. */
const strength: Readonly<Partial<Record<ProtectionLevel, number>>> = {
  [ProtectionLevel.Clear]: 0,
  [ProtectionLevel.Integrity]: 1,
  [ProtectionLevel.Confidentiality]: 2,
};

export interface GssapiClientOptions {
  /**
   * The proxy's GSS-API service: a bare service (`rcmd`, what curl and Dante use; RFC 1961 §3.1
   * suggests `socks`) is combined with the proxy's host name into `rcmd@proxy.example`; a
   * `service@host` or a Kerberos principal (`rcmd/proxy.example@REALM`) is used as given.
   * Default `rcmd`.
   */
  readonly service?: string | undefined;
  /**
   * The level to propose (RFC 1961 §4.3). The proxy's answer is accepted when it is at least as
   * strong (clear < integrity < confidentiality); otherwise the connection is closed (§4.4) with
   * `ERR_SOCKS_GSSAPI_LEVEL`. Default `confidentiality`.
   */
  readonly level?: GssapiLevel | undefined;
  /** Send the level octet unwrapped, as the NEC implementation does. Default false. */
  readonly nec?: boolean | undefined;
  /** The user's credential cache (e.g. `FILE:/tmp/krb5cc_1000`). Default: KRB5CCNAME's. */
  readonly ccache?: string | undefined;
  /** A keytab from which the library gets the user's tickets itself. */
  readonly clientKeytab?: string | undefined;
  /** The principal to act as, e.g. `alice@EXAMPLE.COM`. Default: the credential cache's. */
  readonly principal?: string | undefined;
  /** The GSS-API shared library. Default `libgssapi_krb5.so.2`. */
  readonly library?: string | undefined;
  /** A loaded binding to use instead of loading `library`. */
  readonly binding?: GssapiBinding | undefined;
}

function optionalText(field: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'string' || value === '' || value.includes('\0'))) {
    throw invalidOption(field, 'must be a non-empty string without NUL');
  }
}

/**
 * The GSS-API method for a proxy.
 * @throws SocksUsageError naming a bad option.
 */
export function gssapiMethod(options: GssapiClientOptions = {}): ClientAuthMethod {
  for (const field of ['service', 'ccache', 'clientKeytab', 'principal', 'library'] as const) {
    optionalText(`gssapi.${field}`, options[field]);
  }
  const level = options.level ?? 'confidentiality';
  if (!(level in levels)) {
    throw invalidOption(
      'gssapi.level',
      `expected clear, integrity or confidentiality, got ${JSON.stringify(level)}`,
    );
  }
  if (options.nec !== undefined && typeof options.nec !== 'boolean') {
    throw invalidOption('gssapi.nec', 'must be true or false');
  }
  const settings = Object.freeze({ ...options, level, service: options.service ?? 'rcmd' });
  return Object.freeze({
    method: AuthMethod.GssApi,
    name: 'gssapi',
    required: true,
    options: settings,
    start: (context: AuthContext): AuthExchange => new GssapiExchange(settings, context),
  });
}

/** The options a {@link gssapiMethod} was made with, when `method` is one. */
export function gssapiOptionsOf(method: ClientAuthMethod): GssapiClientOptions | undefined {
  return method.method === AuthMethod.GssApi && 'options' in method
    ? (method as { options: GssapiClientOptions }).options
    : undefined;
}

/** The acceptor's name for a proxy: `service@host` unless the option already names one. */
function targetName(service: string, proxyHost: string): string {
  return service.includes('@') || service.includes('/') ? service : `${service}@${proxyHost}`;
}

type Settings = GssapiClientOptions & { readonly level: GssapiLevel; readonly service: string };

class GssapiExchange implements AuthExchange {
  readonly #settings: Settings;
  readonly #context: AuthContext;
  #initiator: GssInitiator | undefined;
  #phase: 'start' | 'context' | 'level' = 'start';
  /** We sent a context token and wait for the proxy's answer (§3.7: possibly zero-length). */
  #awaiting = false;

  constructor(settings: Settings, context: AuthContext) {
    this.#settings = settings;
    this.#context = context;
  }

  async step(input: Uint8Array): Promise<AuthStep> {
    try {
      return await this.#step(input);
    } catch (err) {
      this.#initiator?.dispose();
      this.#initiator = undefined;
      const error = this.#describe(err);
      // Tell the proxy, unless it is the one that gave up (RFC 1961 §3.8 abort, both ways).
      const aborted = error instanceof SocksAuthError;
      return {
        consumed: input.length,
        done: false,
        error,
        ...(aborted ? {} : { output: GSSAPI_ABORT.slice() }),
      };
    }
  }

  async #step(input: Uint8Array): Promise<AuthStep> {
    if (this.#phase === 'start') {
      this.#phase = 'context';
      this.#initiator = await this.#createInitiator();
      return this.#contextStep(undefined, 0);
    }
    const decoded = decodeGssapiMessage(input);
    if (decoded === NEED_MORE) return { consumed: 0, done: false };
    const message = decoded.value;
    const consumed = decoded.length;
    if (message.type === 'abort') {
      throw new SocksAuthError(
        ClientErrorCode.AuthFailed,
        `the proxy refused the GSS-API authentication (RFC 1961 abort message 01 FF)`,
      );
    }
    if (this.#phase === 'context' && message.type === 'context') {
      this.#awaiting = false;
      if (this.#initiator?.complete === true) return this.#proposeLevel(consumed);
      return this.#contextStep(message.token, consumed);
    }
    if (this.#phase === 'level' && message.type === 'protection-level') {
      return this.#acceptLevel(message.token, consumed);
    }
    throw new SocksProtocolError(
      ProtocolErrorCode.UnexpectedData,
      `the proxy sent a GSS-API ${message.type} message during the ${this.#phase} phase`,
    );
  }

  async #createInitiator(): Promise<GssInitiator> {
    const s = this.#settings;
    const binding =
      s.binding ?? (await loadGssapi(s.library === undefined ? {} : { library: s.library }));
    let credential: GssCredential | undefined;
    if (s.ccache !== undefined || s.clientKeytab !== undefined || s.principal !== undefined) {
      credential = await binding.acquireInitiatorCredential({
        ...(s.ccache === undefined ? {} : { ccache: s.ccache }),
        ...(s.clientKeytab === undefined ? {} : { clientKeytab: s.clientKeytab }),
        ...(s.principal === undefined ? {} : { principal: s.principal }),
      });
    }
    try {
      return binding.createInitiator({
        target: targetName(s.service, this.#context.proxyHost),
        ...(credential === undefined ? {} : { credential }),
      });
    } finally {
      // The context holds its own use of the credential until it is established.
      credential?.dispose();
    }
  }

  async #contextStep(token: Uint8Array | undefined, consumed: number): Promise<AuthStep> {
    const initiator = this.#initiator;
    if (initiator === undefined) throw new Error('unreachable: no initiator');
    const step = await initiator.step(token);
    const out =
      step.token === undefined
        ? undefined
        : encodeGssapiMessage({ type: 'context', token: step.token });
    if (out !== undefined) this.#awaiting = true;
    if (!step.complete || this.#awaiting)
      return { output: out ?? new Uint8Array(0), consumed, done: false };
    const level = this.#proposeLevel(consumed);
    return {
      ...level,
      output: Buffer.concat([out ?? new Uint8Array(0), level.output ?? new Uint8Array(0)]),
    };
  }

  /** §4.3: the proposed level, wrapped with conf_req_flag FALSE (§4.4) or bare (NEC). */
  #proposeLevel(consumed: number): AuthStep {
    const initiator = this.#initiator;
    if (initiator === undefined) throw new Error('unreachable: no initiator');
    this.#phase = 'level';
    const octet = encodeProtectionLevel(levels[this.#settings.level]);
    const token =
      this.#settings.nec === true ? octet : initiator.wrap(octet, { confidential: false }).token;
    return {
      output: encodeGssapiMessage({ type: 'protection-level', token }),
      consumed,
      done: false,
    };
  }

  #acceptLevel(token: Uint8Array, consumed: number): AuthStep {
    const initiator = this.#initiator;
    if (initiator === undefined) throw new Error('unreachable: no initiator');
    const answer = decodeProtectionLevel(
      this.#settings.nec === true ? token : initiator.unwrap(token).data,
    );
    const proposed = levels[this.#settings.level];
    const answered = strength[answer];
    if (answered === undefined || answered < (strength[proposed] ?? 0)) {
      throw new SocksGssapiError(
        GssapiErrorCode.Level,
        `the proxy chose GSS-API protection level ${protectionLevelNames[answer]} (${answer}), weaker than the ${this.#settings.level} proposed`,
      );
    }
    if (answer === ProtectionLevel.Clear) {
      initiator.dispose();
      this.#initiator = undefined;
      return { consumed, done: true };
    }
    const encapsulation = new Encapsulation(initiator, answer);
    this.#initiator = undefined; // the layer owns the context now
    return {
      consumed,
      done: true,
      protect: (connection: Duplex, pending: Uint8Array) =>
        new GssapiSocket(connection as net.Socket | GssapiSocket, encapsulation, {
          initial: pending,
        }),
    };
  }

  #describe(err: unknown): Error {
    const where = this.#context.proxy;
    if (err instanceof SocksGssapiError) {
      return new SocksGssapiError(
        err.code,
        `GSS-API with ${where}: ${err.message}`,
        {
          ...(err.operation === undefined ? {} : { operation: err.operation }),
          major: err.major,
          minor: err.minor,
          routine: err.routine,
        },
        { cause: err },
      );
    }
    if (err instanceof SocksError) return err;
    return err instanceof Error ? err : new Error(String(err));
  }
}
