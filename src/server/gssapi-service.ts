/**
 * The server's GSS-API acceptor credentials: loaded and acquired asynchronously (the keytab is
 * read on a worker thread), once per keytab/service/library, kept while in force. listen()
 * acquires them before opening a listener, so a bad keytab or a missing library fails early;
 * a reload acquires the new ones before they replace the old (FerryServer.prepare()).
 */
import { loadGssapi } from '../gssapi/load.js';
import type { GssapiBinding, GssCredential } from '../gssapi/types.js';
import { sameGssapiCredential, type ResolvedGssapiOptions } from './gssapi-options.js';

/** What a connection needs to accept a security context. */
export interface GssapiService {
  readonly binding: GssapiBinding;
  readonly credential: GssCredential;
}

interface Entry {
  readonly options: ResolvedGssapiOptions;
  readonly ready: Promise<GssapiService>;
}

async function acquire(options: ResolvedGssapiOptions): Promise<GssapiService> {
  const binding =
    options.binding ??
    (await loadGssapi(options.library === undefined ? {} : { library: options.library }));
  const credential = await binding.acquireAcceptorCredential({
    ...(options.keytab === undefined ? {} : { keytab: options.keytab }),
    ...(options.serviceName === undefined ? {} : { serviceName: options.serviceName }),
  });
  return { binding, credential };
}

const ignore = (): void => undefined;

function dispose(entry: Entry): void {
  entry.ready.then((service) => {
    service.credential.dispose();
  }, ignore);
}

export class GssapiCredentials {
  #entries: Entry[] = [];

  /**
   * The credential for these options, acquired on first use and shared afterwards.
   * Rejects with SocksGssapiError: `ERR_SOCKS_GSSAPI_UNAVAILABLE` (no koffi / library) or
   * `ERR_SOCKS_GSSAPI` (unreadable keytab, no key for the service...).
   */
  get(options: ResolvedGssapiOptions): Promise<GssapiService> {
    let entry = this.#entries.find((e) => sameGssapiCredential(e.options, options));
    if (entry === undefined) {
      entry = { options, ready: acquire(options) };
      this.#entries.push(entry);
      const failed = entry;
      // A failure is reported to whoever waits; the entry goes, so that a later try starts over.
      failed.ready.catch(() => {
        this.#entries = this.#entries.filter((e) => e !== failed);
      });
    }
    return entry.ready;
  }

  /**
   * Keeps only the credential for `options` (the configuration now in force) and releases the
   * others. Contexts already accepted with a released credential keep working.
   */
  retain(options: ResolvedGssapiOptions | undefined): void {
    const keep = this.#entries.filter(
      (e) => options !== undefined && sameGssapiCredential(e.options, options),
    );
    for (const e of this.#entries) if (!keep.includes(e)) dispose(e);
    this.#entries = keep;
  }
}
