/** The ferry server library: `createServer(options)` and what it needs. */
export { createServer, FerryServer, isLoopbackHost } from './server.js';
export type { ListenAddress, BoundListener, ServerStats } from './server.js';
export { resolveServerOptions, serverDefaults, allDialects } from './options.js';
export type { ServerOptions, ResolvedServerOptions, AllowUnauthenticated } from './options.js';
export type { SessionRecord, Dialect } from './session-record.js';
export { UserDatabase } from '../auth/users.js';
export { hashPassword } from '../auth/password.js';
export { channelNames } from '../observability/channels.js';
export type * from '../observability/channels.js';
