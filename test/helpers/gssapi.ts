/**
 * Loading the GSS-API binding in tests: a binding, or the reason to skip (koffi or the library
 * missing). Under CI=true a missing binding is a failure, not a skip (HELPERS.md).
 */
import { loadGssapi } from '../../src/gssapi/index.js';
import type { GssapiBinding, GssInitiator, GssAcceptor } from '../../src/gssapi/index.js';

export async function loadGssapiForTests(): Promise<
  { binding: GssapiBinding; skip: undefined } | { binding: undefined; skip: string }
> {
  try {
    return { binding: await loadGssapi(), skip: undefined };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    if (process.env.CI === 'true') throw new Error(`CI=true and ${why}`, { cause: err });
    return { binding: undefined, skip: why };
  }
}

/**
 * Runs the RFC 1961 §3 token ping-pong between two contexts in one process until both are
 * complete. Returns the tokens in the order they were sent. Bounded: Kerberos needs 2 or 3.
 */
export async function establish(
  initiator: GssInitiator,
  acceptor: GssAcceptor,
): Promise<{ fromClient: Uint8Array[]; fromServer: Uint8Array[] }> {
  const fromClient: Uint8Array[] = [];
  const fromServer: Uint8Array[] = [];
  let step = await initiator.step();
  for (let round = 0; round < 5; round++) {
    if (step.token === undefined) break;
    fromClient.push(step.token);
    const answer = await acceptor.step(step.token);
    if (answer.token !== undefined) fromServer.push(answer.token);
    if (initiator.complete) break;
    step = await initiator.step(answer.token);
  }
  if (!initiator.complete || !acceptor.complete)
    throw new Error('context establishment did not finish');
  return { fromClient, fromServer };
}
